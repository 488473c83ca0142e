package config

import (
	"errors"
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
	f.Add("profiles:\n  lab:\n    provider: vcd\n    url: https://vcd.example.com\n    org: O\n    api_token: {env: T}\n    keepalive: 1ns\n")
	f.Add("agent: {idle_timeout: 9s}\nprofiles: {p: {provider: vcf, url: 'http://[::1]:1/', timeout: 999ms, api_key: {command: [k], timeout: 99ms}}}\n")
	f.Add("x-0: &l0 {a: 1, b: 2}\nx-1: &l1 {<<: [*l0, *l0, *l0]}\nprofiles:\n  p: {<<: [*l1, *l1], provider: vcf}\n")
	f.Add("profiles:\n  p:\n    provider: vcf\n    url: https://x.example.com\n    password: " + canary + "\n    username: {env: " + canary + "}\n")
	f.Fuzz(func(t *testing.T, data string) {
		cfg, err := Parse([]byte(data), "fuzz.yaml")
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg != nil, err)
		}
		if err != nil {
			checkParseErrors(t, err)
			return
		}
		for name, p := range cfg.Profiles {
			if err := p.Validate(); err != nil {
				t.Fatalf("profile %q parsed but does not validate: %v", name, err)
			}
			if p.Timeout < MinTimeout || (p.Keepalive != 0 && p.Keepalive < MinKeepalive) {
				t.Fatalf("profile %q parsed below the bounds: timeout %s keepalive %s", name, p.Timeout, p.Keepalive)
			}
		}
		if cfg.Agent.IdleTimeout < MinIdleTimeout {
			t.Fatalf("idle_timeout %s parsed below the bound", cfg.Agent.IdleTimeout)
		}
	})
}

// checkParseErrors: every problem is a *Error. (Whether a message repeats
// a value is the table tests' business: a fuzzed key may legitimately be
// named.)
func checkParseErrors(t *testing.T, err error) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v is not a *config.Error", e)
		}
	}
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
