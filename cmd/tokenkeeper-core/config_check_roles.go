package main

import (
	"fmt"
	"strings"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/role"
)

// whoText says whose token a profile got: "as svc@vsphere.local, role
// VIEWER", with what the upstream did not say marked as such.
func whoText(t *host.Token) string {
	who, r := t.Principal, t.Role
	if who == "" {
		who = "an account the upstream did not name"
	}
	if r == "" {
		r = "not reported by the upstream"
	}
	return "as " + who + ", role " + r
}

// roleWarning is config check's warning for a token carrying a role that
// can rotate credentials or manage users (ADMIN, System or Organization
// Administrator), with the least role for what the profile declares
// (max_role) or, without a max_role, for each kind of job; "" when the
// role is not such a one.
func roleWarning(p *config.Profile, t *host.Token) string {
	var strong []string
	for _, r := range strings.Split(t.Role, ",") {
		if r = strings.TrimSpace(r); role.Privileged(r) {
			strong = append(strong, r)
		}
	}
	if len(strong) == 0 {
		return ""
	}
	who := t.Principal
	if who == "" {
		who = "the account"
	}
	head := fmt.Sprintf("profile %s logs in as %s, which has %s: a credential that can change every password and user it can reach",
		p.Name, who, role.Join(strong))
	if !p.RoleLimit.IsZero() {
		return head + fmt.Sprintf("; max_role %s declares the profile needs it: keep it to jobs that rotate credentials or manage users", p.RoleLimit.Max)
	}
	least := "inventory and reports need VIEWER, provisioning OPERATOR, only credential rotation ADMIN"
	if p.Provider == config.ProviderVCD {
		least = "reading and using vApps needs vApp User, creating them vApp Author, only org management Organization Administrator (System Administrator: provider work only)"
	}
	return head + "; " + least + ": use a service account of the least role the job needs and set max_role (docs/least-privilege.md)"
}
