package config

import (
	"strings"
	"testing"
)

// FuzzParse: no input may panic Parse or make it return both a config
// and an error.
func FuzzParse(f *testing.F) {
	f.Add(designExample)
	f.Add(strings.Join(with(vcf, "    username: u", "    password: {env: P}"), "\n"))
	f.Add("x-a: &a {url: https://x.example.com}\nprofiles:\n  p: {<<: [*a, {provider: vcf}], api_key: {command: [k], timeout: 1s}}\n")
	f.Add("profiles:\n  p: &p\n    <<: *p\n")
	f.Add("a: &a [*a]\n")
	f.Fuzz(func(t *testing.T, data string) {
		cfg, err := Parse([]byte(data), "fuzz.yaml")
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg != nil, err)
		}
	})
}

func TestParseMergeCycleAndBlowup(t *testing.T) {
	f := newFixture(t)
	_, err := f.parse("profiles:", "  p: &p", "    <<: *p")
	if err == nil || !strings.Contains(err.Error(), "merges a mapping into itself") {
		t.Fatalf("merge cycle: %v", err)
	}
	// Each level merges the previous one ten times: 10^6 entries if
	// expanded naively.
	lines := []string{"x-0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}"}
	for i := 1; i <= 6; i++ {
		prev := "*l" + string(rune('0'+i-1))
		lines = append(lines, "x-"+string(rune('0'+i))+": &l"+string(rune('0'+i))+" {<<: ["+strings.TrimSuffix(strings.Repeat(prev+", ", 10), ", ")+"]}")
	}
	lines = append(lines, "profiles:", "  p:", "    <<: *l6")
	_, err = f.parse(lines...)
	if err == nil || !strings.Contains(err.Error(), "expand to more than") {
		t.Fatalf("merge blow-up: %v", err)
	}
}
