package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

const canary = "canary-Pa55w0rd-7f3a"

func TestSecretNeverPrintsItsValue(t *testing.T) {
	s := New(canary)
	holder := struct {
		Password Secret
		Ptr      *Secret
	}{s, &s}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%T %v", "%10s", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, &s))
	}
	js, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js))

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s, "holder", holder)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", s, "holder", holder)
	hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true}).Info("x", "secret", s, "holder", holder, "ptr", &s)
	hclog.New(&hclog.LoggerOptions{Output: &buf}).Info("x", "secret", s, "holder", holder, "ptr", &s)
	outputs = append(outputs, buf.String())

	for _, out := range outputs {
		if strings.Contains(out, canary) || strings.Contains(out, fmt.Sprintf("%x", canary)) {
			t.Fatalf("a formatting path leaked the secret value (output redacted from this message), output length %d", len(out))
		}
	}
	if s.Reveal() != canary {
		t.Fatal("Reveal does not return the raw value")
	}
}

func TestFingerprint(t *testing.T) {
	fp := New(canary).Fingerprint()
	if !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+16 {
		t.Fatalf("fingerprint %q is not sha256:+16 hex", fp)
	}
	if New("").Fingerprint() != "" {
		t.Fatal("empty secret must have an empty fingerprint")
	}
	if New("a").Fingerprint() == New("b").Fingerprint() {
		t.Fatal("different values share a fingerprint")
	}
}
