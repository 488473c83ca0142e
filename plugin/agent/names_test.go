package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// TestWriteEnvNames: the agent records the names its configuration reads
// (never values), privately, and a host that reads them with the key
// derives the socket the CLI derives from the loaded configuration.
func TestWriteEnvNames(t *testing.T) {
	dir := shortRoot(t)
	cfg := filepath.Join(dir.Path(), "config.yaml")
	names := []string{"VCF_PW", "VCD_TOKEN", "VCF_PW"}
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"VCF_PW": "secret-value", "VCD_TOKEN": "t"}[k]
		return v, ok
	}
	tag, err := paths.TagOf(dir, names, lookup)
	if err != nil {
		t.Fatal(err)
	}
	p, err := paths.Locate(dir, cfg, tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteEnvNames(p, names); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p.Names)
	if err != nil || string(b) != "VCD_TOKEN\nVCF_PW\n" {
		t.Fatalf("names file = %q (%v), want the sorted names", b, err)
	}
	if fi, err := os.Stat(p.Names); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("names file mode: %v, %v; want 0600", fi, err)
	}
	seenTag, err := paths.SeenTag(dir, cfg, lookup)
	if err != nil {
		t.Fatal(err)
	}
	seen, err := paths.Locate(dir, cfg, seenTag)
	if err != nil || seen != p {
		t.Fatalf("host sees %+v (%v), want the agent's %+v", seen, err, p)
	}
	if err := WriteEnvNames(p, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p.Names); err != nil || len(b) != 0 {
		t.Fatalf("names file of a configuration reading no variable = %q, %v; want an empty file", b, err)
	}
	if tag, err := paths.SeenTag(dir, cfg, lookup); err != nil || tag != "" {
		t.Fatalf("an empty names file gives tag %q, %v; want the untagged agent", tag, err)
	}
}
