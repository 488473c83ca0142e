package config

import (
	"testing"
	"time"
)

// A vcenter profile logs in with username and password; idle_timeout and
// keepalive apply, the Cloud Director and VCF credentials do not.
func TestVCenterProfile(t *testing.T) {
	vc := []string{"profiles:", "  vc:", "    provider: vcenter", "    url: https://vcenter.example.com"}
	f := newFixture(t)
	cfg, err := f.parse(with(vc, "    username: svc@vsphere.local", "    password: {env: P}",
		"    idle_timeout: 10m", "    keepalive: 2m")...)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Profiles["vc"]; p.Provider != ProviderVCenter || p.IdleTimeout != 10*time.Minute || p.Keepalive != 2*time.Minute {
		t.Fatalf("profile %+v", p)
	}
	tests := []struct {
		name  string
		lines []string
		want  []want
	}{
		{"no credentials", vc, []want{{2, "vc", "password", "provider vcenter needs username and password"}}},
		{"no username", with(vc, "    password: {env: P}"), []want{{2, "vc", "username", "is required with password"}}},
		{"no password", with(vc, "    username: u"), []want{{2, "vc", "password", "is required with username"}}},
		{"org", with(vc, "    username: u", "    password: {env: P}", "    org: O"),
			[]want{{7, "vc", "org", "is not used by provider vcenter"}}},
		{"api_token", with(vc, "    username: u", "    password: {env: P}", "    api_token: {env: T}"),
			[]want{{7, "vc", "api_token", "is not used by provider vcenter"}}},
		{"idle too long", with(vc, "    username: u", "    password: {env: P}", "    idle_timeout: 25h"),
			[]want{{7, "vc", "idle_timeout", "must be at most 24h0m0s"}}},
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
