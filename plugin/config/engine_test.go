package config

import "testing"

// A vault profile reads tokenkeeper's Vault engine: mount and name are
// required, url is optional (the vault block's address), the login
// secrets stay in the engine.
func TestVaultEngineProfile(t *testing.T) {
	ve := []string{"profiles:", "  fleet:", "    provider: vault"}
	f := newFixture(t)
	cfg, err := f.parse(with(ve, "    url: https://vault.example.com:8200", "    mount: tokenkeeper", "    name: sddc")...)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Profiles["fleet"]; p.Provider != ProviderVault || p.Mount != "tokenkeeper" || p.EngineProfile != "sddc" ||
		p.URL != "https://vault.example.com:8200" {
		t.Fatalf("profile %+v", p)
	}
	if _, err := f.parse(with(ve, "    mount: /tokenkeeper/", "    name: sddc")...); err != nil {
		t.Fatalf("without url (the vault block's address): %v", err)
	}
	tests := []struct {
		name  string
		lines []string
		want  []want
	}{
		{"no mount", with(ve, "    name: sddc"), []want{{2, "fleet", "mount", "is required: where the engine is mounted"}}},
		{"no name", with(ve, "    mount: tokenkeeper"), []want{{2, "fleet", "name", "is required: the engine's profile"}}},
		{"neither", ve, []want{{2, "fleet", "mount", "is required"}, {2, "fleet", "name", "is required"}}},
		{"a password", with(ve, "    mount: tokenkeeper", "    name: sddc", "    password: {env: P}"),
			[]want{{6, "fleet", "password", "is not used by provider vault"}}},
		{"a bad name", with(ve, "    mount: tokenkeeper", "    name: a/b"),
			[]want{{5, "fleet", "name", "must be a profile name of the engine"}}},
		{"mount on vcf", []string{"profiles:", "  s:", "    provider: vcf", "    url: https://s.example.com",
			"    api_key: {env: K}", "    mount: tokenkeeper"}, []want{{6, "s", "mount", "is not used by provider vcf"}}},
		{"a proxy of it", with(ve, "    mount: tokenkeeper", "    name: sddc", "proxies:", "  fleet: {listen: 127.0.0.1:0}"),
			[]want{{7, "", "proxies.fleet", "has Vault's url, not the API's"}}},
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
