package paths

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestEnvTag: the tag is keyed, 16 hex digits, independent of the order
// and duplicates of the names and of unrelated variables, and tells apart
// every change of a value it covers (unset, empty, moved between names).
func TestEnvTag(t *testing.T) {
	key := []byte(strings.Repeat("k", KeySize))
	names := []string{"VCF_PW", "VCD_TOKEN"}
	base := EnvTag(key, names, lookupMap(map[string]string{"VCF_PW": "right", "VCD_TOKEN": "t"}))
	if len(base) != 16 || strings.Trim(base, "0123456789abcdef") != "" {
		t.Fatalf("tag %q: want 16 hex digits", base)
	}
	tests := []struct {
		name  string
		key   []byte
		names []string
		env   map[string]string
		same  bool
	}{
		{"same values", key, names, map[string]string{"VCF_PW": "right", "VCD_TOKEN": "t"}, true},
		{"order and duplicates", key, []string{"VCD_TOKEN", "VCF_PW", "VCD_TOKEN"}, map[string]string{"VCF_PW": "right", "VCD_TOKEN": "t"}, true},
		{"unrelated variable", key, names, map[string]string{"VCF_PW": "right", "VCD_TOKEN": "t", "X": "y"}, true},
		{"other value", key, names, map[string]string{"VCF_PW": "wrong", "VCD_TOKEN": "t"}, false},
		{"unset", key, names, map[string]string{"VCD_TOKEN": "t"}, false},
		{"empty", key, names, map[string]string{"VCF_PW": "", "VCD_TOKEN": "t"}, false},
		{"value moved", key, names, map[string]string{"VCF_PW": "rightt", "VCD_TOKEN": ""}, false},
		{"other key", []byte(strings.Repeat("x", KeySize)), names, map[string]string{"VCF_PW": "right", "VCD_TOKEN": "t"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := EnvTag(tc.key, tc.names, lookupMap(tc.env))
			if (got == base) != tc.same {
				t.Fatalf("tag %q vs %q: same = %v, want %v", got, base, got == base, tc.same)
			}
		})
	}
	if got := EnvTag(key, nil, lookupMap(nil)); got != "" {
		t.Fatalf("EnvTag(no names) = %q, want \"\"", got)
	}
}

// TestSeenTag: a host finds the untagged agent until an agent has
// recorded names and a key exists, then the agent its environment tags.
func TestSeenTag(t *testing.T) {
	dir := openTemp(t)
	cfg := filepath.Join(dir.Path(), "config.yaml")
	env := lookupMap(map[string]string{"VCF_PW": "pw"})
	// seenBy is the agent a host finds (host.SocketPath).
	seenBy := func() (Agent, error) {
		tag, err := SeenTag(dir, cfg, env)
		if err != nil {
			return Agent{}, err
		}
		return Locate(dir, cfg, tag)
	}
	untagged, err := Locate(dir, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	check := func(want Agent) {
		t.Helper()
		got, err := seenBy()
		if err != nil || got != want {
			t.Fatalf("SeenTag = %+v (%v), want %+v", got, err, want)
		}
	}
	check(untagged) // no names file
	if err := os.WriteFile(untagged.Names, FormatEnvNames([]string{"VCF_PW"}), 0o600); err != nil {
		t.Fatal(err)
	}
	check(untagged) // no key
	key := []byte(strings.Repeat("k", KeySize))
	if err := os.WriteFile(dir.Join(KeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	tagged, err := Locate(dir, cfg, EnvTag(key, []string{"VCF_PW"}, env))
	if err != nil {
		t.Fatal(err)
	}
	check(tagged)
	if err := os.Chmod(untagged.Names, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := seenBy(); !errors.Is(err, ErrInsecureDir) {
		t.Fatalf("SeenTag with a readable names file: %v, want ErrInsecureDir", err)
	}
}

// TestReadKey refuses keys that are not a private KeySize-byte file.
func TestReadKey(t *testing.T) {
	tests := []struct {
		name string
		data string
		mode os.FileMode
		ok   bool
	}{
		{"private", strings.Repeat("k", KeySize), 0o600, true},
		{"short", "k", 0o600, false},
		{"long", strings.Repeat("k", KeySize+1), 0o600, false},
		{"readable by others", strings.Repeat("k", KeySize), 0o644, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := openTemp(t)
			path := dir.Join(KeyFile)
			if err := os.WriteFile(path, []byte(tc.data), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			k, err := ReadKey(dir)
			if (err == nil) != tc.ok || tc.ok && string(k) != tc.data {
				t.Fatalf("ReadKey = %q, %v; want ok=%v", k, err, tc.ok)
			}
		})
	}
	if _, err := ReadKey(openTemp(t)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadKey of a missing key: %v, want os.ErrNotExist", err)
	}
}
