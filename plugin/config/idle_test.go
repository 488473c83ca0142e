package config

import (
	"testing"
	"time"
)

// A vcd profile may set the session idle timeout its server does not
// report; it is validated like every duration and refused for vcf.
func TestIdleTimeoutKey(t *testing.T) {
	f := newFixture(t)
	ok := with(vcd, "    org: O", "    api_token: {env: T}", "    idle_timeout: 4m")
	cfg, err := f.parse(ok...)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Profiles["lab"].IdleTimeout; got != 4*time.Minute {
		t.Errorf("IdleTimeout = %v", got)
	}
	tests := []struct {
		name  string
		lines []string
		want  []want
	}{
		{"zero", with(vcd, "    org: O", "    api_token: {env: T}", "    idle_timeout: 0s"),
			[]want{{7, "lab", "idle_timeout", "must be greater than zero"}}},
		{"no unit", with(vcd, "    org: O", "    api_token: {env: T}", "    idle_timeout: 30"),
			[]want{{7, "lab", "idle_timeout", "needs a unit"}}},
		{"too short", with(vcd, "    org: O", "    api_token: {env: T}", "    idle_timeout: 30ms"),
			[]want{{7, "lab", "idle_timeout", "must be at least 1s"}}},
		{"too long", with(vcd, "    org: O", "    api_token: {env: T}", "    idle_timeout: 48h"),
			[]want{{7, "lab", "idle_timeout", "must be at most 24h0m0s"}}},
		{"not for vcf", with(vcf, "    username: u", "    password: {env: P}", "    idle_timeout: 5m"),
			[]want{{7, "sddc", "idle_timeout", "is not used by provider vcf"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.parse(tt.lines...)
			if err == nil {
				t.Fatal("no error")
			}
			assertErrors(t, err, tt.want)
		})
	}
}
