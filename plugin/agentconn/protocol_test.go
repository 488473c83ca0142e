package agentconn

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestHeaderIsMarshal: the hand-written header is what json.Marshal
// writes for it, and what ParseHeader reads back.
func TestHeaderIsMarshal(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 1500 * time.Millisecond, 2 * time.Minute, 90*time.Hour + 7*time.Millisecond} {
		h := header{Protocol: Protocol}
		if d != 0 {
			h.Timeout = d.String()
		}
		want, _ := json.Marshal(h)
		got := appendHeader(nil, d)
		if !bytes.Equal(got, append(want, '\n')) {
			t.Errorf("%s: header %q, json.Marshal %q", d, got, want)
		}
		if back, err := ParseHeader(bytes.TrimSuffix(got, []byte("\n"))); err != nil || back != d {
			t.Errorf("%s: ParseHeader(%q) = %s, %v", d, got, back, err)
		}
	}
	if got := string(appendHeader(nil, 1500*time.Millisecond)); got != `{"protocol":1,"timeout":"1.5s"}`+"\n" {
		t.Errorf("header %q", got)
	}
}
