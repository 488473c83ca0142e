package keeper

import (
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Lockout guard backoff: upstreams lock an account after a few failed
// logins (SDDC Manager: 5 within 180 s), so a rejected credential is tried
// again only after guardFirst, doubling with each further rejection up to
// guardMax — or at once when the secret source yields another value.
const (
	guardFirst = time.Minute
	guardMax   = 30 * time.Minute
)

// guard remembers a rejected login. It lives inside profile and is guarded
// by profile.mu; the zero value is disarmed. The credential is an opaque
// Secret from Provider.Credential and is never logged.
type guard struct {
	cred    secret.Secret // the rejected credential
	step    int           // rejections in a row; 0 = disarmed
	retryAt time.Time     // no login with cred before this
	cause   error         // the rejection, for GuardError
}

func (g *guard) armed() bool { return g.step > 0 }

// blocks reports whether a login with credential cred must not be tried now.
func (g *guard) blocks(now time.Time, cred secret.Secret) bool {
	return g.armed() && cred.Equal(g.cred) && now.Before(g.retryAt)
}

// reject arms the guard for credential cred after a rejection at now.
func (g *guard) reject(now time.Time, cred secret.Secret, cause error) {
	g.step++
	g.cred, g.cause = cred, cause
	g.retryAt = now.Add(guardDelay(g.step))
}

// guardDelay is the wait after the n-th rejection in a row (n ≥ 1).
func guardDelay(n int) time.Duration {
	d := guardFirst
	for i := 1; i < n && d < guardMax; i++ {
		d *= 2
	}
	return min(d, guardMax)
}

// guardCheck refuses a login with credential cred while the guard blocks it.
// It runs inside the one call in flight, so at most one login per
// credential and backoff step reaches upstream, whatever the callers.
func (p *profile) guardCheck(cred secret.Secret) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.env.now()
	if !p.guard.blocks(now, cred) {
		return nil
	}
	p.log.Debug("login not attempted: credential rejected before", "op", "login",
		"retry_at", p.guard.retryAt, "rejections", p.guard.step)
	return &GuardError{Profile: p.name, RetryAt: p.guard.retryAt, Cause: p.guard.cause}
}
