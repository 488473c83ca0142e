package agentconn

import (
	"slices"
	"testing"
)

func TestEnviron(t *testing.T) {
	in := []string{"PATH=/bin", "TOKENKEEPER_TOKEN=tok", "TOKENKEEPER_HEADER_VALUE=Bearer tok",
		"TOKENKEEPER_HEADER_NAME=Authorization", "TOKENKEEPER_EXPIRES_AT=2026", "TOKENKEEPER_CONFIG=/c.yaml", "VCF_PASSWORD=pw"}
	got := Environ(in)
	want := []string{"PATH=/bin", "TOKENKEEPER_CONFIG=/c.yaml", "VCF_PASSWORD=pw"}
	if !slices.Equal(got, want) {
		t.Fatalf("Environ = %q, want %q", got, want)
	}
	if v, ok := Lookup(append(got, "VCF_PASSWORD=later"))("VCF_PASSWORD"); !ok || v != "later" {
		t.Fatalf("Lookup: last duplicate should win, got %q %v", v, ok)
	}
}

// TestLookup: os.LookupEnv's answers over a list: a name is what comes
// before the first '=', an empty value is set, an entry without '=' names
// nothing.
func TestLookup(t *testing.T) {
	l := Lookup([]string{"A=1", "B=", "NOEQ", "C=x=y", "A=2"})
	for _, tt := range []struct {
		name, want string
		ok         bool
	}{{"A", "2", true}, {"B", "", true}, {"C", "x=y", true}, {"C=x", "", false}, {"NOEQ", "", false}, {"D", "", false}, {"", "", false}} {
		if v, ok := l(tt.name); v != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.want, tt.ok)
		}
	}
}
