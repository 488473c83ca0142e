// Package role names the roles an upstream account can carry and decides
// whether a token's roles stay within a profile's max_role. It is a leaf:
// config parses max_role with it, the providers name roles with it and
// the keeper enforces the limit with it.
package role

import (
	"fmt"
	"slices"
	"strings"
)

// The SDDC Manager roles.
const (
	Viewer   = "VIEWER"
	Operator = "OPERATOR"
	Admin    = "ADMIN"
)

// SystemAdministrator is Cloud Director's provider role.
const SystemAdministrator = "System Administrator"

// OrganizationAdministrator is Cloud Director's strongest tenant role.
const OrganizationAdministrator = "Organization Administrator"

// VCF is the SDDC Manager ladder, weakest first.
var VCF = []string{Viewer, Operator, Admin}

// VCD is the ladder of Cloud Director's predefined roles, weakest first:
// each holds the rights of the ones before it. "Defer to Identity
// Provider" and custom roles are not on it (name them in a list).
var VCD = []string{"Console Access Only", "vApp User", "vApp Author", "Catalog Author",
	OrganizationAdministrator, SystemAdministrator}

// Limit is a profile's max_role: the roles its tokens may carry.
type Limit struct {
	// Max is the limit as configured, for messages: "VIEWER" or
	// "[vApp User, Custom Reader]".
	Max string
	// Allowed are the role names a token may carry (compared ignoring
	// case); empty means no limit.
	Allowed []string
	// single: Max names one role of a ladder (the message then suggests
	// an account of that role).
	single bool
}

// IsZero reports whether l sets no limit.
func (l Limit) IsZero() bool { return len(l.Allowed) == 0 }

// Allows reports whether a token carrying roles stays within l: every one
// of them is allowed. A token whose roles are unknown (none) is not
// allowed by a limit: what cannot be checked is refused.
func (l Limit) Allows(roles []string) bool {
	if l.IsZero() {
		return true
	}
	if len(roles) == 0 {
		return false
	}
	for _, r := range roles {
		if !containsFold(l.Allowed, r) {
			return false
		}
	}
	return true
}

// Suggestion says which account to use instead: "use a VIEWER service
// account".
func (l Limit) Suggestion() string {
	if l.single {
		return "use a " + l.Max + " service account"
	}
	return "use a service account whose roles are all among " + l.Max
}

// Parse reads max_role for a provider ("vcf", "vcd"): one role name, which
// allows it and every role below it on the provider's ladder, or (vcd) a
// list of role names, which allows exactly those (custom roles included).
func Parse(provider string, names []string) (Limit, error) {
	ladder := map[string][]string{"vcf": VCF, "vcd": VCD}[provider]
	if ladder == nil {
		return Limit{}, fmt.Errorf("is not supported for provider %q", provider)
	}
	if len(names) == 0 {
		return Limit{}, fmt.Errorf("must name a role: one of %s", strings.Join(ladder, ", "))
	}
	if len(names) == 1 {
		i := slices.IndexFunc(ladder, func(r string) bool { return strings.EqualFold(r, strings.TrimSpace(names[0])) })
		if i < 0 {
			hint := ""
			if provider == "vcd" {
				hint = "; a custom role goes into a list of the allowed roles, e.g. max_role: [\"" + names[0] + "\"]"
			}
			return Limit{}, fmt.Errorf("%q is not one of %s%s", names[0], strings.Join(ladder, ", "), hint)
		}
		return Limit{Max: ladder[i], Allowed: slices.Clone(ladder[:i+1]), single: true}, nil
	}
	if provider != "vcd" {
		return Limit{}, fmt.Errorf("takes one role for vcf: one of %s", strings.Join(ladder, ", "))
	}
	allowed := make([]string, 0, len(names))
	for _, n := range names {
		if n = strings.TrimSpace(n); n == "" {
			return Limit{}, fmt.Errorf("lists an empty role name")
		}
		allowed = append(allowed, n)
	}
	return Limit{Max: "[" + strings.Join(allowed, ", ") + "]", Allowed: allowed}, nil
}

// Privileged reports whether a role can rotate credentials or manage
// users across the platform: ADMIN, or System or Organization
// Administrator. config check warns about such accounts.
func Privileged(r string) bool {
	return strings.EqualFold(r, Admin) || strings.EqualFold(r, SystemAdministrator) ||
		strings.EqualFold(r, OrganizationAdministrator)
}

// Join renders roles for a table cell or a document: "vApp User, Custom".
func Join(roles []string) string { return strings.Join(roles, ", ") }

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, strings.TrimSpace(s)) })
}
