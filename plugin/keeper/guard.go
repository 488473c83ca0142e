package keeper

import (
	"time"
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
// by profile.mu; the zero value is disarmed.
type guard struct {
	fp      string    // fingerprint of the rejected credential; "" = disarmed
	step    int       // rejections in a row
	retryAt time.Time // no login with fp before this
	cause   error     // the rejection, for GuardError
}

func (g *guard) armed() bool { return g.fp != "" }

// blocks reports whether a login with credential fp must not be tried now.
func (g *guard) blocks(now time.Time, fp string) bool {
	return g.armed() && fp == g.fp && now.Before(g.retryAt)
}

// reject arms the guard for credential fp after a rejection at now.
func (g *guard) reject(now time.Time, fp string, cause error) {
	g.step++
	g.fp, g.cause = fp, cause
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

// guardCheck refuses a login with credential fp while the guard blocks it.
// It runs inside the one call in flight, so at most one login per
// credential and backoff step reaches upstream, whatever the callers.
func (p *profile) guardCheck(fp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.env.now()
	if !p.guard.blocks(now, fp) {
		return nil
	}
	p.log.Debug("login not attempted: credential rejected before", "op", "login",
		"credential", fp, "retry_at", p.guard.retryAt)
	return &GuardError{Profile: p.name, RetryAt: p.guard.retryAt, Cause: p.guard.cause}
}
