package vcf

import (
	"slices"
	"testing"

	simvcf "github.com/tokenkeeper/tokenkeeper/internal/sim/vcf"
	"github.com/tokenkeeper/tokenkeeper/plugin/role"
)

// TestRoleOfEveryScope is the scope → role table: every scope the
// simulator can issue, alone, and every role's scope set as the simulator
// issues it. A scope the simulator learns without a row here fails.
func TestRoleOfEveryScope(t *testing.T) {
	single := map[string]string{
		"BACKUP_CONFIG_READ":  role.Viewer,
		"BACKUP_CONFIG_WRITE": role.Operator,
		"CREDENTIAL_READ":     role.Admin,
		"CREDENTIAL_WRITE":    role.Admin,
		"OTHER_READ":          role.Viewer,
		"OTHER_WRITE":         role.Operator,
		"USER_READ":           role.Admin,
		"USER_WRITE":          role.Admin,
	}
	for _, r := range simvcf.Roles {
		scopes := simvcf.Scopes(r)
		if got := RoleOf(scopes); got != string(r) {
			t.Errorf("RoleOf(%v) = %q, want %q (the simulator's %s token)", scopes, got, r, r)
		}
		for _, s := range scopes {
			want, ok := single[s]
			if !ok {
				t.Errorf("the simulator issues scope %q, which this table does not cover", s)
				continue
			}
			if got := RoleOf([]string{s}); got != want {
				t.Errorf("RoleOf([%s]) = %q, want %q", s, got, want)
			}
		}
	}
	for _, tc := range []struct {
		scopes []string
		want   string
	}{
		{nil, ""},
		{[]string{"other_read"}, role.Viewer},
		{[]string{"OTHER_READ", "SOMETHING_NEW"}, role.Admin}, // unknown permission: fail closed
		{[]string{"OTHER_READ", "OTHER_WRITE", "CREDENTIAL_READ"}, role.Admin},
	} {
		if got := RoleOf(tc.scopes); got != tc.want {
			t.Errorf("RoleOf(%v) = %q, want %q", tc.scopes, got, tc.want)
		}
	}
}

// TestLoginCarriesIdentity: a login's grant names the user, the role and
// the raw scopes of the simulator's token, for each role.
func TestLoginCarriesIdentity(t *testing.T) {
	for _, r := range simvcf.Roles {
		t.Run(string(r), func(t *testing.T) {
			l := newLab(t, func(o *simvcf.Options) {
				o.Users["svc@vsphere.local"] = simvcf.User{Password: "pw-" + string(r), Role: r}
			})
			g, err := l.provider("svc@vsphere.local", "pw-"+string(r)).Login(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if g.Principal != "svc@vsphere.local" || !slices.Equal(g.Roles, []string{string(r)}) ||
				!slices.Equal(g.Scopes, simvcf.Scopes(r)) {
				t.Fatalf("grant identity = %q %v %v, want svc@vsphere.local [%s] %v", g.Principal, g.Roles, g.Scopes, r, simvcf.Scopes(r))
			}
		})
	}
}

// TestRefreshKeepsIdentity: the refreshed access token names the same
// account and role.
func TestRefreshKeepsIdentity(t *testing.T) {
	l := newLab(t, nil)
	p := l.provider(viewUser, viewPass)
	g, err := p.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ng, err := p.Refresh(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	if ng.Principal != viewUser || !slices.Equal(ng.Roles, []string{role.Viewer}) {
		t.Fatalf("refreshed identity = %q %v", ng.Principal, ng.Roles)
	}
}
