package main

import (
	"slices"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// TestVaultEnvNames: a configuration that reads Vault names, for the
// agent's tag, the variables its connection reads (its {env: …}
// credentials and the standard VAULT_* ones), so a shell with another
// Vault or token gets its own agent; a {command: …} helper is still given
// the standard ones (a vault CLI needs them), never the credentials.
func TestVaultEnvNames(t *testing.T) {
	helper := &secret.Ref{Command: []string{"pass", "show", "x"}}
	cfg := &config.Config{
		Vault: &config.Vault{AppRole: &config.VaultAppRole{RoleID: &secret.Ref{Env: "TK_ROLE_ID"}, SecretID: &secret.Ref{File: "/s"}}},
		Profiles: map[string]*config.Profile{
			"v": {Password: &secret.Ref{Vault: &secret.VaultRef{Path: "secret/data/x", Field: "password"}}},
			"c": {Password: helper},
		},
	}
	names := envNames(cfg)
	for _, want := range []string{"TK_ROLE_ID", "VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_CAPATH"} {
		if !slices.Contains(names, want) {
			t.Errorf("envNames = %q: missing %s", names, want)
		}
	}
	scrubCommands(cfg)
	if !slices.Contains(helper.Scrub, "TK_ROLE_ID") || slices.Contains(helper.Scrub, "VAULT_TOKEN") {
		t.Errorf("a command helper's scrub list = %q: want the role id out, VAULT_TOKEN kept", helper.Scrub)
	}
	without := &config.Config{Profiles: map[string]*config.Profile{"c": {Password: &secret.Ref{Env: "PW"}}}}
	if got := envNames(without); !slices.Equal(got, []string{"PW"}) {
		t.Errorf("without Vault references envNames = %q, want only PW", got)
	}
}

// A profile of provider vault reads Vault too: the agent's tag names the
// Vault variables, so runners with other Vault tokens get agents of their
// own.
func TestVaultEnvNamesOfEngineProfiles(t *testing.T) {
	cfg := &config.Config{Profiles: map[string]*config.Profile{
		"fleet": {Provider: config.ProviderVault, Mount: "tokenkeeper", EngineProfile: "sddc"},
	}}
	names := envNames(cfg)
	for _, want := range []string{"VAULT_ADDR", "VAULT_TOKEN"} {
		if !slices.Contains(names, want) {
			t.Errorf("envNames = %q: missing %s", names, want)
		}
	}
}
