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
