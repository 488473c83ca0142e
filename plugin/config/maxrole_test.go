package config

import (
	"slices"
	"strings"
	"testing"
)

// max_role: one role (vcf or vcd) or a list (vcd), parsed for the
// profile's provider; a wrong one is an error at its line.
func TestMaxRole(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		allowed []string
		errLine string
	}{
		{"vcf viewer", "profiles:\n  r:\n    provider: vcf\n    url: https://sddc.example.com\n    username: u\n    password: {env: P}\n    max_role: VIEWER\n",
			[]string{"VIEWER"}, ""},
		{"vcd predefined", "profiles:\n  r:\n    provider: vcd\n    url: https://vcd.example.com\n    org: O\n    username: u\n    password: {env: P}\n    max_role: vApp User\n",
			[]string{"Console Access Only", "vApp User"}, ""},
		{"vcd list", "profiles:\n  r:\n    provider: vcd\n    url: https://vcd.example.com\n    org: O\n    username: u\n    password: {env: P}\n    max_role: [vApp User, Custom Reader]\n",
			[]string{"vApp User", "Custom Reader"}, ""},
		{"vcf unknown", "profiles:\n  r:\n    provider: vcf\n    url: https://sddc.example.com\n    username: u\n    password: {env: P}\n    max_role: READER\n",
			nil, `:7:`},
		{"vcf list", "profiles:\n  r:\n    provider: vcf\n    url: https://sddc.example.com\n    username: u\n    password: {env: P}\n    max_role: [VIEWER, ADMIN]\n",
			nil, `takes one role for vcf`},
		{"vcenter", "profiles:\n  r:\n    provider: vcenter\n    url: https://vc.example.com\n    username: u\n    password: {env: P}\n    max_role: ADMIN\n",
			nil, `not supported for provider vcenter`},
		{"empty list", "profiles:\n  r:\n    provider: vcf\n    url: https://sddc.example.com\n    username: u\n    password: {env: P}\n    max_role: []\n",
			nil, `at least one role`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.yaml), "c.yaml")
			if tc.errLine != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errLine) || !strings.Contains(err.Error(), "max_role") {
					t.Fatalf("error %v, want one at max_role with %q", err, tc.errLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Profiles["r"].RoleLimit.Allowed; !slices.Equal(got, tc.allowed) {
				t.Fatalf("allowed %v, want %v", got, tc.allowed)
			}
		})
	}
}
