package exec

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// TestStatusDocumentIsStable: `status --json` is a machine contract. The
// golden file was written by the document types as they were in
// cmd/tokenkeeper before they moved here; a renamed field, a lost
// omitempty or a changed escaping fails this test.
func TestStatusDocumentIsStable(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b := at.Add(time.Hour)
	doc := NewStatus()
	doc.Agent = AgentStatus{Running: true, Socket: "/run/user/1000/tokenkeeper/agent-0a1b2c3d4e5f-00112233aabbccdd.sock",
		PID: 4242, Tag: "00112233aabbccdd"}
	doc.OtherAgents = append(doc.OtherAgents, AgentStatus{Running: true, Socket: "/run/x.sock", PID: 7})
	doc.Profiles = append(doc.Profiles,
		ProfileStatus{Agent: &AgentRef{PID: 4242, Tag: "00112233aabbccdd"}, Profile: "sddc", Provider: "vcf",
			URL: "https://sddc.example.com", State: "backoff", AccessExpiresAt: &at, RefreshExpiresAt: &b,
			Fingerprint: "sha256:1f2e3d4c5b6a7988", LastError: `login: HTTP 401 <BAD_CREDENTIALS> & "x"`,
			RetryAt: &at, LastUsed: &b, Counts: Counts{1, 2, 3, 4, 5}},
		ProfileStatus{Profile: "vcd", Provider: "vcd", URL: "https://vcd.example.com", State: "empty"})
	var got bytes.Buffer
	if err := WriteStatus(&got, doc); err != nil {
		t.Fatal(err)
	}
	if err := WriteStatus(&got, NewStatus()); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/status.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("status document changed:\n got: %s\nwant: %s", got.String(), want)
	}
}
