package keeper

import (
	"context"
	"fmt"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/role"
)

// RoleError is a login whose token carries more than the profile's
// max_role: the session was revoked at once and no token handed out. It
// is not a credential rejection — the login succeeded — so it never arms
// the lockout guard; errors.Is(err, provider.ErrForbidden) holds.
type RoleError struct {
	Profile   string
	Principal string   // who the token speaks for; empty when not said
	Roles     []string // what it carries; empty when unknown
	Limit     role.Limit
	// Revoke is the failure to revoke the session, if any (it then
	// lives until it expires upstream).
	Revoke error
}

func (e *RoleError) Error() string {
	who := e.Principal
	if who == "" {
		who = "the account"
	}
	has := "has " + role.Join(e.Roles)
	if len(e.Roles) == 0 {
		has = "has a role the upstream did not say"
	}
	msg := fmt.Sprintf("profile %s allows at most %s; %s %s: %s", e.Profile, e.Limit.Max, who, has, e.Limit.Suggestion())
	if e.Revoke != nil {
		msg += fmt.Sprintf(" (the session could not be revoked and lives until it expires: %v)", e.Revoke)
	}
	return msg
}

// Is makes errors.Is(err, provider.ErrForbidden) hold.
func (e *RoleError) Is(target error) bool { return target == provider.ErrForbidden }

// overLimit decides whether a grant's roles exceed limit; it returns the
// refusal or nil.
func overLimit(profile string, limit role.Limit, g provider.Grant) *RoleError {
	if limit.Allows(g.Roles) {
		return nil
	}
	return &RoleError{Profile: profile, Principal: g.Principal, Roles: g.Roles, Limit: limit}
}

// refuseRole revokes a grant that exceeds the profile's max_role, at once,
// and counts the revocation. The revocation outlives a Close that cancels
// the login's call (the session must not stay behind), bounded by the
// call timeout.
func (p *profile) refuseRole(ctx context.Context, e *RoleError, g provider.Grant) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.settings.callTimeout)
	defer cancel()
	err := p.spec.Impl.Revoke(ctx, g)
	p.mu.Lock()
	p.counts.Logins++
	if err == nil {
		p.counts.Revocations++
	}
	p.mu.Unlock()
	e.Revoke = err
	p.log.Warn("login refused: the token carries more than max_role; revoked", "op", "login",
		"principal", g.Principal, "roles", g.Roles, "max_role", e.Limit.Max, "revoke_error", err)
	return e
}
