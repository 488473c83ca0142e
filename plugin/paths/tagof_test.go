package paths

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// lookupOf looks names up in kv (NAME=value; the last of duplicates wins).
func lookupOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for _, e := range kv {
		if k, v, ok := strings.Cut(e, "="); ok {
			m[k] = v
		}
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestTagOf(t *testing.T) {
	dir := openTemp(t)
	names := []string{"VCF_PASSWORD", "VCD_TOKEN"}
	base, err := TagOf(dir, names, lookupOf("VCF_PASSWORD=right", "VCD_TOKEN=t"))
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
			got, err := TagOf(dir, tc.names, lookupOf(tc.env...))
			if err != nil {
				t.Fatal(err)
			}
			if (got == base) != tc.same {
				t.Fatalf("tag %q vs %q: same = %v, want %v", got, base, got == base, tc.same)
			}
		})
	}
	fi, err := os.Stat(dir.Join(KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	// Keyed: another runtime directory (another key) tags the same values
	// differently, so a tag cannot be recomputed from guessed passwords.
	other, err := TagOf(openTemp(t), names, lookupOf("VCF_PASSWORD=right", "VCD_TOKEN=t"))
	if err != nil || other == base {
		t.Fatalf("tag with another key = %q (%v), want different from %q", other, err, base)
	}
}

func TestTagOfNoNames(t *testing.T) {
	dir := openTemp(t)
	tag, err := TagOf(dir, nil, lookupOf("A=b"))
	if err != nil || tag != "" {
		t.Fatalf("EnvTag(no names) = %q, %v; want \"\"", tag, err)
	}
	if _, err := os.Stat(dir.Join(KeyFile)); !os.IsNotExist(err) {
		t.Fatalf("key file made for no names: %v", err)
	}
}

func TestTagOfKeyRace(t *testing.T) {
	dir := openTemp(t)
	tags := make([]string, 8)
	var wg sync.WaitGroup
	for i := range tags {
		wg.Go(func() {
			tag, err := TagOf(dir, []string{"P"}, lookupOf("P=x"))
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

func TestTagOfRefusesBadKey(t *testing.T) {
	writeKey := func(data []byte, mode os.FileMode) func(string) error {
		return func(p string) error {
			if err := os.WriteFile(p, data, 0o600); err != nil {
				return err
			}
			return os.Chmod(p, mode) // WriteFile's mode passes through the umask
		}
	}
	for name, write := range map[string]func(path string) error{
		"group readable": writeKey(make([]byte, KeySize), 0o640),
		"short":          writeKey([]byte("x"), 0o600),
		"long":           writeKey(make([]byte, KeySize+1), 0o600),
		"symlink":        func(p string) error { return os.Symlink("/etc/hostname", p) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := openTemp(t)
			if err := write(dir.Join(KeyFile)); err != nil {
				t.Fatal(err)
			}
			if tag, err := TagOf(dir, []string{"P"}, lookupOf("P=x")); err == nil {
				t.Fatalf("EnvTag = %q with a %s key file, want an error", tag, name)
			}
		})
	}
}

func TestAgents(t *testing.T) {
	dir := openTemp(t)
	plain, _ := Locate(dir, "/c.yaml", "")
	v1, _ := Locate(dir, "/c.yaml", "00112233aabbccdd")
	v2, _ := Locate(dir, "/c.yaml", "ffeeddccbbaa9988")
	other, _ := Locate(dir, "/other.yaml", "00112233aabbccdd")
	if v1.Socket == plain.Socket || v1.Run == plain.Run || v1.Log == plain.Log || v1.Spawn == v2.Spawn {
		t.Fatalf("variants share files: %+v %+v %+v", plain, v1, v2)
	}
	for _, p := range []Agent{v2, plain, other, v1} {
		mustDo(t, os.WriteFile(p.Socket, nil, 0o600))
		mustDo(t, os.WriteFile(p.Log, nil, 0o600))
	}
	mustDo(t, os.WriteFile(strings.TrimSuffix(v1.Socket, ".sock")+"-x.sock", nil, 0o600))
	all, err := Agents(dir, "/c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Agent{plain, v1, v2}; !slices.Equal(all, want) {
		t.Fatalf("Agents = %+v, want %+v", all, want)
	}
	if _, err := Locate(dir, "/c.yaml", "../x"); err == nil {
		t.Fatal("Locate accepted a tag that is not hex")
	}
}
