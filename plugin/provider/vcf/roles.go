package vcf

import (
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/role"
)

// adminScopes are the permissions only ADMIN holds in the VCF role table:
// the secured credential APIs and user management.
var adminScopes = []string{"CREDENTIAL_READ", "CREDENTIAL_WRITE", "USER_READ", "USER_WRITE"}

// RoleOf derives the SDDC Manager role from a token's scope claim, which
// carries permissions, not the role name: a credential or user-management
// scope is ADMIN; else any other *_WRITE scope is OPERATOR; else *_READ
// scopes only are VIEWER. A scope of neither form is a permission this
// table does not know, counted as ADMIN so that max_role fails closed. No
// scopes at all is "" (unknown). docs/least-privilege.md gives the
// evidence for the table.
func RoleOf(scopes []string) string {
	if len(scopes) == 0 {
		return ""
	}
	r := role.Viewer
	for _, s := range scopes {
		s = strings.ToUpper(strings.TrimSpace(s))
		switch {
		case slices.Contains(adminScopes, s):
			return role.Admin
		case strings.HasSuffix(s, "_WRITE"):
			r = role.Operator
		case strings.HasSuffix(s, "_READ"):
		default:
			return role.Admin
		}
	}
	return r
}

// tokenClaims are the identity claims of an SDDC Manager access token.
type tokenClaims struct {
	User  string           `json:"user"`
	Name  string           `json:"name"`
	Scope jwt.ClaimStrings `json:"scope"`
	jwt.RegisteredClaims
}

// withIdentity fills g's principal, role and scopes from the access
// token's claims, decoded without verifying: the token is only read, the
// server stays the judge. A token that does not decode leaves them empty.
func withIdentity(g provider.Grant) provider.Grant {
	var c tokenClaims
	if _, _, err := jwt.NewParser().ParseUnverified(g.Access.Reveal(), &c); err != nil {
		return g
	}
	g.Principal = firstNonEmpty(c.User, c.Name, c.Subject)
	for _, s := range c.Scope {
		g.Scopes = append(g.Scopes, strings.Fields(s)...) // OAuth's space-separated form too
	}
	if r := RoleOf(g.Scopes); r != "" {
		g.Roles = []string{r}
	}
	return g
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
