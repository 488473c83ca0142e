package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDurationLowerBounds: settings far below any sane value (1ns
// keepalive probed Cloud Director ~2,400 times a second) are refused with
// the file, line and column of the value and the key, never the value.
func TestDurationLowerBounds(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		lines []string
		line  int
		col   int
		field string
		msg   string
	}{
		{"keepalive 1ns", with(vcd, "    org: O", "    username: u", "    password: {env: P}", "    keepalive: 1ns"),
			8, 16, "keepalive", "must be at least 10s, or 0 to turn it off (value not shown)"},
		{"keepalive 9s", with(vcd, "    org: O", "    username: u", "    password: {env: P}", "    keepalive: 9s"),
			8, 16, "keepalive", "must be at least 10s, or 0 to turn it off"},
		{"timeout 1ns", with(vcf, "    api_key: {env: K}", "    timeout: 1ns"),
			6, 14, "timeout", "must be at least 1s (value not shown)"},
		{"timeout 999ms", with(vcf, "    api_key: {env: K}", "    timeout: 999ms"),
			6, 14, "timeout", "must be at least 1s"},
		{"command timeout 1ns", with(vcf, "    api_key: {command: [k], timeout: 1ns}"),
			5, 38, "api_key.timeout", "must be at least 100ms (value not shown)"},
		{"idle_timeout 1ns", with(vcf, "    api_key: {env: K}", "agent:", "  idle_timeout: 1ns"),
			7, 17, "agent.idle_timeout", "must be at least 10s (value not shown)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.parse(tc.lines...)
			errs := allErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(errs), err)
			}
			e := errs[0]
			if e.Line != tc.line || e.Column != tc.col || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("got %d:%d field %q %q\nwant %d:%d field %q %q", e.Line, e.Column, e.Field, e.Msg,
					tc.line, tc.col, tc.field, tc.msg)
			}
			if want := fmt.Sprintf("config.yaml:%d:%d: ", tc.line, tc.col); !strings.Contains(e.Error(), want) {
				t.Fatalf("message %q does not start with the file:line:col %q", e.Error(), want)
			}
		})
	}
}

// TestDurationAtTheBounds: the minimums themselves, and keepalive 0
// (off), are accepted.
func TestDurationAtTheBounds(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.parse(with(vcd, "    org: O", "    username: u", "    password: {command: [p], timeout: 100ms}",
		"    keepalive: 10s", "    timeout: 1s", "  off:", "    provider: vcd", "    url: https://vcd.example.com",
		"    org: O", "    api_token: {env: T}", "    keepalive: 0s", "agent: {idle_timeout: 10s}")...)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Profiles["lab"]
	if p.Keepalive != MinKeepalive || p.Timeout != MinTimeout || p.Password.Timeout != MinCommandTimeout ||
		cfg.Agent.IdleTimeout != MinIdleTimeout || cfg.Profiles["off"].Keepalive != 0 {
		t.Fatalf("got keepalive %s timeout %s command timeout %s idle %s", p.Keepalive, p.Timeout,
			p.Password.Timeout, cfg.Agent.IdleTimeout)
	}
}

// TestValidateBoundsInCode: a Profile built in code gets the same bounds.
func TestValidateBoundsInCode(t *testing.T) {
	p := &Profile{Name: "p", Provider: ProviderVCD, URL: "https://vcd.example.com", Org: "O",
		Username: "u", Password: nil, Keepalive: time.Nanosecond, Timeout: time.Nanosecond}
	err := p.Validate()
	for _, want := range []string{`field "keepalive": must be at least 10s`, `field "timeout": must be at least 1s`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q", err, want)
		}
	}
}

// TestLoadRefusesLargeFile: a profiles file over 1 MiB is refused with a
// clear message from its size, before it is read (this one is sparse,
// 64 MiB of nothing).
func TestLoadRefusesLargeFile(t *testing.T) {
	p := writeConfig(t, privateDir(t, 0o700), loadYAML, 0o600)
	if err := os.Truncate(p, 64<<20); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("Load = %v, want ErrTooLarge saying 1 MiB", err)
	}
	if _, err := Parse(make([]byte, MaxFileSize+1), "big.yaml"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Parse of %d bytes = %v, want ErrTooLarge", MaxFileSize+1, err)
	}
}

// TestLoadAtSizeCap: a file of exactly 1 MiB (padded with a comment)
// loads.
func TestLoadAtSizeCap(t *testing.T) {
	pad := MaxFileSize - len(loadYAML) - 2
	p := writeConfig(t, privateDir(t, 0o700), loadYAML+"#"+strings.Repeat("x", pad)+"\n", 0o600)
	if fi, err := os.Stat(p); err != nil || fi.Size() != MaxFileSize {
		t.Fatalf("fixture size: %v %v", fi, err)
	}
	if _, err := Load(p); err != nil {
		t.Fatal(err)
	}
}

// TestManyPlainProfilesLoad: the merge budget counts merges, not the
// entries written out: 1,580 profiles without a merge key (refused before
// as "<< merges expand to more than 10000 entries") load, and so do 1,580
// profiles that each merge shared defaults.
func TestManyPlainProfilesLoad(t *testing.T) {
	for _, merged := range []bool{false, true} {
		t.Run(fmt.Sprintf("merged=%v", merged), func(t *testing.T) {
			var b strings.Builder
			b.WriteString("x-defaults: &d {provider: vcf, username: u, password: {env: P}, timeout: 20s, refresh_before: 5m}\nprofiles:\n")
			for i := range 1580 {
				fmt.Fprintf(&b, "  p%d:\n    url: https://h%d.example.com\n", i, i)
				if merged {
					b.WriteString("    <<: *d\n")
				} else {
					b.WriteString("    provider: vcf\n    username: u\n    password: {env: P}\n    timeout: 20s\n    refresh_before: 5m\n")
				}
			}
			path := filepath.Join(t.TempDir(), "many.yaml")
			cfg, err := Parse([]byte(b.String()), path)
			if err != nil {
				t.Fatalf("Parse: %.300v", err)
			}
			if len(cfg.Profiles) != 1580 {
				t.Fatalf("%d profiles", len(cfg.Profiles))
			}
		})
	}
}
