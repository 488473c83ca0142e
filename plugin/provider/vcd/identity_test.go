package vcd

import (
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"slices"
	"testing"
)

// TestLoginIdentity: every login flow's grant names the session's
// user@org and roles — from the CloudAPI login body, the legacy Session,
// or sessions/current after a token exchange — and a System-org login is
// a provider session.
func TestLoginIdentity(t *testing.T) {
	tests := []struct {
		name, product string
		cfg           Config
		principal     string
		roles         []string
	}{
		{"tenant cloudapi", "10.4", Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}},
			"alice@ExampleOrg", []string{"Organization Administrator"}},
		{"system cloudapi", "10.5", Config{Org: "System", Username: "admin", Password: staticSecret{canaryPassword}},
			"admin@System", []string{"System Administrator"}},
		{"legacy forced", "10.4", Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}, LegacyLogin: true},
			"alice@ExampleOrg", []string{"Organization Administrator"}},
		{"legacy on a 9.7 server", "9.7", Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}},
			"alice@ExampleOrg", []string{"Organization Administrator"}},
		{"api token", "10.4", Config{Org: "ExampleOrg", APIToken: staticSecret{canaryAPIToken}},
			"alice@ExampleOrg", []string{"Organization Administrator"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, versionsOf(t, tt.product))
			g, err := f.provider(t, tt.cfg).Login(t.Context())
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if g.Principal != tt.principal || !slices.Equal(g.Roles, tt.roles) {
				t.Fatalf("identity %q %v, want %q %v", g.Principal, g.Roles, tt.principal, tt.roles)
			}
		})
	}
}

// TestRoleRefsWhenNoRoles: a session body with roleRefs only still names
// the roles.
func TestRoleRefsWhenNoRoles(t *testing.T) {
	g := withIdentity(provider.Grant{}, []byte(`{"user":{"name":"bob"},"org":{"name":"Acme"},"roleRefs":[{"name":"vApp User","id":"urn:vcloud:role:1"}]}`))
	if g.Principal != "bob@Acme" || !slices.Equal(g.Roles, []string{"vApp User"}) {
		t.Fatalf("identity %q %v", g.Principal, g.Roles)
	}
}
