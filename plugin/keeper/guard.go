package keeper

import (
	"context"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
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

// guardStoreTimeout bounds one GuardStore operation. A rejection is saved
// on a context of its own: the call's may be about to end.
const guardStoreTimeout = 5 * time.Second

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
// carried is the count of rejections another process recorded: the
// backoff continues from the longer streak.
func (g *guard) reject(now time.Time, cred secret.Secret, cause error, carried int) {
	g.step = max(g.step, carried) + 1
	g.cred, g.cause = cred, cause
	g.retryAt = now.Add(guardDelay(g.step))
}

// state is the guard as a GuardStore records it.
func (g *guard) state() GuardState {
	return GuardState{Credential: g.cred, Rejections: g.step, RetryAt: g.retryAt, LastError: g.cause.Error()}
}

// guardDelay is the wait after the n-th rejection in a row (n ≥ 1).
func guardDelay(n int) time.Duration {
	d := guardFirst
	for i := 1; i < n && d < guardMax; i++ {
		d *= 2
	}
	return min(d, guardMax)
}

// shared is what the GuardStore said before a login: how many rejections
// it carries, and whether it must be cleared after a success.
type shared struct {
	rejections int
	dirty      bool // an entry exists, or the store could not be read
}

// sharedGuardCheck refuses a login with credential cred while the shared
// store, which another process may have armed, blocks it. With
// memGuardCheck before it, inside the one call in flight and under the
// login lock, at most one login per credential and backoff step reaches
// upstream, whatever the callers and processes.
func (p *profile) sharedGuardCheck(ctx context.Context, cred secret.Secret) (shared, error) {
	if p.env.guards == nil {
		return shared{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, guardStoreTimeout)
	defer cancel()
	st, ok, err := p.env.guards.Load(ctx, p.guardKey, cred)
	if err != nil {
		p.log.Warn("could not read the shared lockout guard; guarding in this process only",
			"op", "login", "error", err)
		return shared{dirty: true}, nil
	}
	if !ok {
		return shared{}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cred.IsZero() || !st.Credential.Equal(cred) || !time.Now().Before(st.RetryAt) {
		return shared{rejections: st.Rejections, dirty: true}, nil
	}
	// Another process was rejected with this credential: adopt its
	// guard, so that later calls here fail fast without reading the store.
	p.guard = guard{cred: cred, step: max(st.Rejections, 1), retryAt: st.RetryAt,
		cause: &recordedRejection{msg: st.LastError}}
	p.log.Debug("login not attempted: credential rejected before by another process",
		"op", "login", "retry_at", st.RetryAt, "rejections", st.Rejections)
	return shared{}, &GuardError{Profile: p.name, RetryAt: st.RetryAt, Cause: p.guard.cause}
}

// lockLogin takes the store's login lock of the profile, if it has one,
// and returns its release. Failing to get it only costs the cross-process
// serialization: it is logged and the login goes ahead.
func (p *profile) lockLogin(ctx context.Context) func() {
	l, ok := p.env.guards.(LoginLocker)
	if !ok {
		return func() {}
	}
	unlock, err := l.LockLogin(ctx, p.guardKey)
	if err != nil {
		p.log.Warn("could not take the shared login lock; logging in without it", "op", "login", "error", err)
		return func() {}
	}
	return unlock
}

// memGuardCheck refuses a login with credential cred while the guard of
// this process blocks it.
func (p *profile) memGuardCheck(cred secret.Secret) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.guard.blocks(time.Now(), cred) {
		return nil
	}
	p.log.Debug("login not attempted: credential rejected before", "op", "login",
		"retry_at", p.guard.retryAt, "rejections", p.guard.step)
	return &GuardError{Profile: p.name, RetryAt: p.guard.retryAt, Cause: p.guard.cause}
}

// saveGuard records a rejection in the shared store, best effort.
func (p *profile) saveGuard(ctx context.Context, st GuardState) {
	if p.env.guards == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), guardStoreTimeout)
	defer cancel()
	if err := p.env.guards.Save(ctx, p.guardKey, st); err != nil {
		p.log.Warn("could not record the rejected login for other processes", "op", "login", "error", err)
	}
}

// clearGuard forgets a recorded rejection after a successful login.
func (p *profile) clearGuard(ctx context.Context, sh shared) {
	if p.env.guards == nil || !sh.dirty {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), guardStoreTimeout)
	defer cancel()
	if err := p.env.guards.Clear(ctx, p.guardKey); err != nil {
		p.log.Warn("could not clear the shared lockout guard", "op", "login", "error", err)
	}
}

// recordedRejection is a rejected login another process recorded in the
// GuardStore: its message, classified as a credential rejection.
type recordedRejection struct{ msg string }

func (e *recordedRejection) Error() string {
	if e.msg == "" {
		return "credentials rejected (recorded by another process)"
	}
	return e.msg
}

func (e *recordedRejection) Unwrap() error { return provider.ErrCredentialsRejected }
