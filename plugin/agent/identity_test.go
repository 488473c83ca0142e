package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

func lookupOf(kv ...string) func(string) (string, bool) { return Lookup(kv) }

func TestEnvTag(t *testing.T) {
	dir := shortRoot(t)
	names := []string{"VCF_PASSWORD", "VCD_TOKEN"}
	base, err := EnvTag(dir, names, lookupOf("VCF_PASSWORD=right", "VCD_TOKEN=t"))
	if err != nil {
		t.Fatal(err)
	}
	if len(base) != 16 || strings.Trim(base, "0123456789abcdef") != "" {
		t.Fatalf("tag %q: want 16 hex digits", base)
	}
	tests := []struct {
		name  string
		names []string
		env   []string
		same  bool
	}{
		{"same values", names, []string{"VCF_PASSWORD=right", "VCD_TOKEN=t"}, true},
		{"names in another order, duplicated", []string{"VCD_TOKEN", "VCF_PASSWORD", "VCD_TOKEN"}, []string{"VCD_TOKEN=t", "VCF_PASSWORD=right"}, true},
		{"unrelated variable differs", names, []string{"VCF_PASSWORD=right", "VCD_TOKEN=t", "OTHER=x"}, true},
		{"other value", names, []string{"VCF_PASSWORD=wrong", "VCD_TOKEN=t"}, false},
		{"unset", names, []string{"VCD_TOKEN=t"}, false},
		{"set but empty", names, []string{"VCF_PASSWORD=", "VCD_TOKEN=t"}, false},
		{"value moved between names", names, []string{"VCF_PASSWORD=rightt", "VCD_TOKEN="}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EnvTag(dir, tc.names, lookupOf(tc.env...))
			if err != nil {
				t.Fatal(err)
			}
			if (got == base) != tc.same {
				t.Fatalf("tag %q vs %q: same = %v, want %v", got, base, got == base, tc.same)
			}
		})
	}
	fi, err := os.Stat(dir.Join(KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != paths.KeySize {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	// Keyed: another runtime directory (another key) tags the same values
	// differently, so a tag cannot be recomputed from guessed passwords.
	other, err := EnvTag(shortRoot(t), names, lookupOf("VCF_PASSWORD=right", "VCD_TOKEN=t"))
	if err != nil || other == base {
		t.Fatalf("tag with another key = %q (%v), want different from %q", other, err, base)
	}
}

func TestEnvTagNoNames(t *testing.T) {
	dir := shortRoot(t)
	tag, err := EnvTag(dir, nil, lookupOf("A=b"))
	if err != nil || tag != "" {
		t.Fatalf("EnvTag(no names) = %q, %v; want \"\"", tag, err)
	}
	if _, err := os.Stat(dir.Join(KeyFile)); !os.IsNotExist(err) {
		t.Fatalf("key file made for no names: %v", err)
	}
}

func TestEnvTagKeyRace(t *testing.T) {
	dir := shortRoot(t)
	tags := make([]string, 8)
	var wg sync.WaitGroup
	for i := range tags {
		wg.Go(func() {
			tag, err := EnvTag(dir, []string{"P"}, lookupOf("P=x"))
			if err != nil {
				t.Error(err)
			}
			tags[i] = tag
		})
	}
	wg.Wait()
	if tags[0] == "" || slices.ContainsFunc(tags, func(s string) bool { return s != tags[0] }) {
		t.Fatalf("racing callers made different keys: %q", tags)
	}
	left, _ := filepath.Glob(filepath.Join(dir.Path(), ".agent.key.tmp-*"))
	if len(left) != 0 {
		t.Fatalf("temporary key files left: %v", left)
	}
}

func TestEnvTagRefusesBadKey(t *testing.T) {
	writeKey := func(data []byte, mode os.FileMode) func(string) error {
		return func(p string) error {
			if err := os.WriteFile(p, data, 0o600); err != nil {
				return err
			}
			return os.Chmod(p, mode) // WriteFile's mode passes through the umask
		}
	}
	for name, write := range map[string]func(path string) error{
		"group readable": writeKey(make([]byte, paths.KeySize), 0o640),
		"short":          writeKey([]byte("x"), 0o600),
		"long":           writeKey(make([]byte, paths.KeySize+1), 0o600),
		"symlink":        func(p string) error { return os.Symlink("/etc/hostname", p) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := shortRoot(t)
			if err := write(dir.Join(KeyFile)); err != nil {
				t.Fatal(err)
			}
			if tag, err := EnvTag(dir, []string{"P"}, lookupOf("P=x")); err == nil {
				t.Fatalf("EnvTag = %q with a %s key file, want an error", tag, name)
			}
		})
	}
}

func TestPathsAll(t *testing.T) {
	dir := shortRoot(t)
	plain, _ := PathsFor(dir, "/c.yaml")
	v1, _ := PathsVariant(dir, "/c.yaml", "00112233aabbccdd")
	v2, _ := PathsVariant(dir, "/c.yaml", "ffeeddccbbaa9988")
	other, _ := PathsVariant(dir, "/other.yaml", "00112233aabbccdd")
	if v1.Socket == plain.Socket || v1.Run == plain.Run || v1.Log == plain.Log || v1.Spawn == v2.Spawn {
		t.Fatalf("variants share files: %+v %+v %+v", plain, v1, v2)
	}
	for _, p := range []Paths{v2, plain, other, v1} {
		mustDo(t, os.WriteFile(p.Socket, nil, 0o600))
		mustDo(t, os.WriteFile(p.Log, nil, 0o600))
	}
	mustDo(t, os.WriteFile(strings.TrimSuffix(v1.Socket, ".sock")+"-x.sock", nil, 0o600))
	all, err := PathsAll(dir, "/c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Paths{plain, v1, v2}; !slices.Equal(all, want) {
		t.Fatalf("PathsAll = %+v, want %+v", all, want)
	}
	if _, err := PathsVariant(dir, "/c.yaml", "../x"); err == nil {
		t.Fatal("PathsVariant accepted a tag that is not hex")
	}
}

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

// TestWriteEnvNames: the agent records the names its configuration reads
// (never values), privately, and a host that reads them with the key
// derives the socket the CLI derives from the loaded configuration.
func TestWriteEnvNames(t *testing.T) {
	dir := shortRoot(t)
	cfg := filepath.Join(dir.Path(), "config.yaml")
	names := []string{"VCF_PW", "VCD_TOKEN", "VCF_PW"}
	lookup := lookupOf("VCF_PW=secret-value", "VCD_TOKEN=t")
	tag, err := EnvTag(dir, names, lookup)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PathsVariant(dir, cfg, tag)
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
	seen, err := paths.AgentSeenBy(dir, cfg, lookup)
	if err != nil || seen != p {
		t.Fatalf("host sees %+v (%v), want the agent's %+v", seen, err, p)
	}
	if err := WriteEnvNames(p, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Names); !os.IsNotExist(err) {
		t.Fatalf("names file kept for a configuration reading no variable: %v", err)
	}
}
