package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

func TestWarnings(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		lines []string
		want  []string // exact warnings; $FILE is the config path
	}{
		{"none", with(vcf, "    username: u", "    password: {env: VCF_PASSWORD}"), nil},
		{"http to loopback", []string{"profiles:", "  sim:", "    provider: vcf", "    url: http://127.0.0.1:8443",
			"    api_key: {file: $DIR/secret}"}, nil},
		{"insecure_skip_verify", with(vcf, "    api_key: {env: K}", "    insecure_skip_verify: true"),
			[]string{`$FILE:6:5: profile "sddc": field "insecure_skip_verify": is on: TLS certificates are not verified, ` +
				`so anyone on the network path can pose as the server and receive the credentials; ` +
				`set ca_file to the server's CA bundle instead`}},
		{"insecure_skip_verify off", with(vcf, "    api_key: {env: K}", "    insecure_skip_verify: false"), nil},
		{"insecure_skip_verify with http", []string{"profiles:", "  sim:", "    provider: vcf", "    url: http://localhost:1",
			"    api_key: {env: K}", "    insecure_skip_verify: true"},
			[]string{`$FILE:6:5: profile "sim": field "insecure_skip_verify": has no effect: the url uses http, without TLS`}},
		{"mixed-case env name", with(vcf, "    username: u", "    password: {env: Summer2024}"),
			[]string{`$FILE:6:5: profile "sddc": field "password": the environment variable name is not upper case, ` +
				`so it is never shown in messages (in case it is the secret itself, written in the wrong place); ` +
				`name the variable like VCF_PASSWORD`}},
		{"lower-case env name", with(vcd, "    org: O", "    api_token: {env: vcd_token}"),
			[]string{`$FILE:6:5: profile "lab": field "api_token": the environment variable name is not upper case`}},
		{"sorted across profiles", []string{"profiles:",
			"  b:", "    provider: vcf", "    url: https://b.example.com", "    api_key: {env: K}", "    insecure_skip_verify: true",
			"  a:", "    provider: vcf", "    url: https://a.example.com", "    api_key: {env: k}", "    insecure_skip_verify: true"},
			[]string{`$FILE:6:5: profile "b": field "insecure_skip_verify"`,
				`$FILE:10:5: profile "a": field "api_key"`, `$FILE:11:5: profile "a": field "insecure_skip_verify"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := f.parse(tt.lines...)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := cfg.Warnings()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d warnings, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if w = strings.ReplaceAll(w, "$FILE", f.path()); !strings.HasPrefix(got[i], w) {
					t.Errorf("warning %d:\n got %s\nwant %s", i, got[i], w)
				}
				if strings.Contains(got[i], "Summer2024") || strings.Contains(got[i], "vcd_token") {
					t.Errorf("warning %q shows the variable name", got[i])
				}
			}
		})
	}
}

func TestProfileWarningsInCode(t *testing.T) {
	p := &Profile{Name: "code", Provider: ProviderVCF, URL: "https://x.example.com", InsecureSkipVerify: true,
		APIKey: &secret.Ref{Env: "Hunter2x"}}
	got := p.Warnings()
	want := []string{`profile "code": field "api_key": the environment variable name`, `profile "code": field "insecure_skip_verify": is on`}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %d warnings", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) || strings.Contains(got[i], "Hunter2x") {
			t.Errorf("warning %d = %q, want it to start with %q and not show the name", i, got[i], want[i])
		}
	}
	cfg := &Config{Profiles: map[string]*Profile{"code": p}}
	if !slices.Equal(cfg.Warnings(), got) {
		t.Errorf("Config.Warnings() = %q, want %q", cfg.Warnings(), got)
	}
}

// TestErrorsDoNotEchoValues covers values that look harmless enough to
// pass a canary check but may be a misplaced password.
func TestErrorsDoNotEchoValues(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct{ value, line string }{
		{"2024Summer", "    password: {env: 2024Summer}"},
		{"Summer-2024", "    password: {env: Summer-2024}"},
		{"Summer2024s", "    password: {env: X, timeout: Summer2024s}"},
		{"20241231", "    password: {command: [pass], timeout: 20241231}"},
		{"Summer2024", "    password: *Summer2024"},
	} {
		t.Run(tt.value, func(t *testing.T) {
			_, err := f.parse(with(vcf, "    username: u", tt.line)...)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), tt.value) {
				t.Fatalf("error %q echoes the value", err)
			}
			if !strings.HasPrefix(err.Error(), f.path()+":6") {
				t.Errorf("error %q is not located at line 6", err)
			}
		})
	}
	_, err := f.parse("profiles:", "  s:", "    provider: Summer2024", "    url: https://x.example.com")
	if err == nil || strings.Contains(err.Error(), "Summer2024") {
		t.Fatalf("unknown provider: got %v, want an error that does not echo the value", err)
	}
}
