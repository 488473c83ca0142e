package keeper

import (
	"context"
	"errors"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// intent is what a shared upstream call is for.
type intent int

const (
	intentRenew     intent = iota // refresh, else log in
	intentProbe                   // check an idle session; log in if it died
	intentKeepalive               // probe only, to keep a session alive
)

// call is the one upstream call of a profile in flight. Every caller that
// needs upstream waits on done instead of starting its own; err and fresh
// are written before done is closed and read only after.
type call struct {
	intent intent
	reason string
	done   chan struct{}
	err    error
	fresh  bool // a new access token was installed
	// lastErr is the latest failed attempt while the call goes on,
	// guarded by profile.mu: a caller that gives up names it.
	lastErr error
	// attempts counts the failed attempts, guarded by profile.mu.
	attempts int
	// failed is closed at the first failed attempt (guarded by
	// profile.mu, with failedClosed), so that callers accepting a
	// shorter-lived token need not wait for the retries.
	failed       chan struct{}
	failedClosed bool
	// need is the longest validity (min validity + margin) a waiter asks
	// of the cached token, guarded by profile.mu: transient failures are
	// retried inside the call while the cached token does not offer it.
	// minValidity is that waiter's min validity alone (for a Relay).
	need, minValidity time.Duration
	// nextAt is when the call tries again after a failed attempt,
	// guarded by profile.mu: the status shows a waiting caller the retries.
	nextAt time.Time
}

// startLocked launches the shared call. It runs on the keeper's base
// context, which no caller can cancel (each caller gives up on its own)
// and Close does, bounded by CallTimeout.
func (p *profile) startLocked(in intent, reason string) *call {
	c := &call{intent: in, reason: reason, done: make(chan struct{}), failed: make(chan struct{})}
	p.inflight = c
	go p.run(p.settings.base, c)
	return c
}

func (p *profile) run(base context.Context, c *call) {
	ctx, cancel := context.WithTimeout(base, p.settings.callTimeout)
	defer cancel()
	start := time.Now()
	p.log.Debug("upstream call started", "op", c.intent.String(), "reason", c.reason)
	var retired []retiredGrant
	b := p.settings.retry
	b.waiting = func(d time.Duration) { p.noteWait(c, d) }
	err := retry(ctx, b, func(ctx context.Context) error {
		err := p.attempt(ctx, c, &retired)
		if err != nil {
			p.noteAttempt(c, err)
		}
		return err
	}, func(err error) bool { return p.retryable(c, err) })
	p.mu.Lock()
	p.finishLocked(c, err, retired)
	p.mu.Unlock()
	close(c.done)
	p.log.Debug("upstream call finished", "op", c.intent.String(), "reason", c.reason,
		"took", time.Since(start), "fresh", c.fresh, "error", err)
}

// attempt is one pass of the lifecycle rules: probe an idle session, else
// refresh, else log in — a rejected refresh costs exactly one login.
func (p *profile) attempt(ctx context.Context, c *call, retired *[]retiredGrant) error {
	p.passOnInvalidation(ctx)
	if c.intent != intentRenew {
		err := p.probe(ctx)
		if err == nil || c.intent == intentKeepalive || errors.Is(err, provider.ErrUnavailable) {
			return err
		}
	}
	if g, ok := p.refreshable(); ok {
		err := p.refresh(ctx, c, g)
		if !errors.Is(err, provider.ErrRefreshRejected) {
			return err
		}
	}
	if p.isClosed() {
		// Close revokes the refresh credential under a call in flight;
		// a login now would mint a grant only to revoke it.
		return p.errorf("log in", ErrClosed)
	}
	return p.login(ctx, c, retired)
}

// noteAttempt records a failed attempt of c as it happens, for callers
// giving up on c and for the status, before the call ends, and logs it at
// warn level: an agent's log must say why its callers got no token (the
// error names no secret).
func (p *profile) noteAttempt(c *call, err error) {
	p.mu.Lock()
	c.lastErr, p.health.lastErr = err, err
	c.attempts++
	attempt := c.attempts
	if !c.failedClosed {
		c.failedClosed = true
		close(c.failed)
	}
	p.mu.Unlock()
	args := []any{"op", c.intent.String(), "attempt", attempt}
	var ge *GuardError
	if errors.As(err, &ge) {
		// No call was made: the guard said why when it armed.
		p.log.Debug("login held back by the lockout guard", append(args, "error", err.Error())...)
		return
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		args = append(args, "method", pe.Method, "path", pe.Path, "status", pe.Status)
	}
	p.log.Warn("upstream call failed", append(args, "error", err.Error())...)
}

// noteWait records that c waits d before its next attempt, for the
// status of a caller waiting on it.
func (p *profile) noteWait(c *call, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.nextAt = time.Now().Add(d)
}

// retryable: transient failures are retried inside call c while the
// cached token cannot serve its waiters (none, expired, or shorter-lived
// than one of them needs); otherwise the cached token serves them and the
// retry happens later on the profile's timer. A login whose outcome is
// unknown has been counted against the account's budget and is not
// retried here.
func (p *profile) retryable(c *call, err error) bool {
	var counted countedLogin
	if !errors.Is(err, provider.ErrUnavailable) || errors.As(err, &counted) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	return !p.closed && !p.held.lasts(now, c.need)
}

func (p *profile) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// refreshable is the held grant, and whether its refresh credential may
// mint an access token now.
func (p *profile) refreshable() (provider.Grant, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held.grant, p.held.refreshable(time.Now(), p.settings)
}

func (p *profile) refresh(ctx context.Context, c *call, g provider.Grant) error {
	start := time.Now()
	ng, err := p.spec.Impl.Refresh(ctx, g)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.counts.RefreshFailures++
		p.log.Debug("refresh failed", "op", "refresh", "took", now.Sub(start), "error", err)
		if errors.Is(err, provider.ErrRefreshRejected) && p.held.grant.Refresh.Equal(g.Refresh) {
			p.held.dead = true
		}
		return p.errorf("refresh access token", err)
	}
	p.counts.Refreshes++
	refreshExp := p.held.refreshExp
	if ng.Refresh.IsZero() {
		// Not rotated (VCF): keep the credential and its original expiry.
		ng.Refresh, ng.RefreshLifetime = g.Refresh, g.RefreshLifetime
		if ng.Meta == nil {
			ng.Meta = g.Meta
		}
	} else {
		refreshExp = expiryAfter(now, ng.RefreshLifetime)
	}
	p.installLocked(c, ng, now, refreshExp, start, "refresh")
	return nil
}

// login logs in under the account's lockout guard: the attempt is
// admitted and recorded before it is sent, and its outcome recorded after
// (see guard.go). A login whose request may have reached the server and
// failed is not retried within the call (countedLogin).
func (p *profile) login(ctx context.Context, c *call, retired *[]retiredGrant) error {
	if r, ok := p.spec.Impl.(Relay); ok {
		return p.fetch(ctx, c, r, retired)
	}
	cred, err := p.spec.Impl.Credential(ctx)
	if err != nil {
		return p.errorf("could not read credential", err)
	}
	a := p.accountFor(cred)
	unlock, started, err := p.admitLogin(ctx, a, cred)
	if err != nil {
		return err
	}
	defer unlock()
	g, err := p.spec.Impl.Login(ctx)
	p.settleLogin(ctx, a, cred, started, err)
	if err != nil {
		return p.loginFailed(started, err)
	}
	if e := overLimit(p.spec.Name, p.spec.MaxRole, g); e != nil {
		return p.refuseRole(ctx, e, g)
	}
	p.loginSucceeded(c, g, started, retired)
	return nil
}

// loginFailed counts a failed login. Neither the credential nor its
// digest is logged.
func (p *profile) loginFailed(start time.Time, err error) error {
	p.mu.Lock()
	p.counts.LoginFailures++
	p.mu.Unlock()
	p.log.Debug("login failed", "op", "login", "took", time.Since(start), "error", err)
	err = p.errorf("log in", err)
	if o := classifyLogin(err); o == outcomeNotSent || o == outcomeMisdirected {
		return err
	}
	return countedLogin{err}
}

// countedLogin is a failed login the guard counted: the retry loop must
// not repeat it within the call, even when it is ErrUnavailable.
type countedLogin struct{ error }

func (e countedLogin) Unwrap() error { return e.error }

func (p *profile) loginSucceeded(c *call, g provider.Grant, start time.Time, retired *[]retiredGrant) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.Logins++
	if p.held.live(now) {
		*retired = append(*retired, retiredGrant{g: p.held.grant, fp: p.held.tok.Fingerprint})
	}
	var refreshExp time.Time
	if !g.Refresh.IsZero() {
		refreshExp = expiryAfter(now, g.RefreshLifetime)
	}
	p.installLocked(c, g, now, refreshExp, start, "login")
}

// probe asks upstream whether the idle-timeout session still lives. A dead
// session is dropped so that the caller logs in again.
func (p *profile) probe(ctx context.Context) error {
	p.mu.Lock()
	g := p.held.grant
	p.mu.Unlock()
	if g.Access.IsZero() {
		return p.errorf("probe session", provider.ErrRefreshRejected)
	}
	if p.prober == nil {
		return p.errorf("probe session", errors.ErrUnsupported)
	}
	start := time.Now()
	err := p.prober.Probe(ctx, g)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	current := p.held.grant.Access.Equal(g.Access)
	p.log.Debug("session probed", "op", "probe", "fingerprint", g.Access.Fingerprint(),
		"took", now.Sub(start), "error", err)
	switch {
	case err == nil:
		if current {
			p.held.lastActive = now
		}
		return nil
	case errors.Is(err, provider.ErrUnavailable):
	case current:
		p.held.dead = true
		p.dropAccessLocked()
	}
	return p.errorf("probe session", err)
}

// installLocked makes g (received at now, its refresh credential ending
// at refreshExp) the held grant and arms the timers for it.
func (p *profile) installLocked(c *call, g provider.Grant, now, refreshExp, start time.Time, op string) {
	p.held = received(g, now, refreshExp, p.spec.Name, p.spec.Provider)
	// A Relay's token may be part-used (the upstream keeper's current
	// one): its life says nothing of what a fresh one would live, so the
	// upstream decides what it can meet.
	if _, relay := p.spec.Impl.(Relay); g.AccessLifetime > 0 && !relay {
		p.freshLife = g.AccessLifetime
	}
	c.fresh = true
	p.scheduleLocked(now)
	p.armKeepaliveLocked()
	h := p.held
	p.log.Debug("access token received", "op", op, "fingerprint", h.tok.Fingerprint,
		"took", now.Sub(start), "expires_in", h.lifetime, "idle_timeout", h.grant.IdleTimeout,
		"refresh_fingerprint", h.grant.Refresh.Fingerprint(), "refresh_expires_at", h.refreshExp, "refresh_at", h.refreshAt)
}

// finishLocked records the outcome of call c and starts revoking the
// grants it replaced. It runs before c.done closes, so whoever waited for
// the call (Revoke, Close) also sees those revocations started.
func (p *profile) finishLocked(c *call, err error, retired []retiredGrant) {
	now := time.Now()
	c.err = err
	if p.inflight == c {
		p.inflight = nil
	}
	switch {
	case err == nil:
		p.health.lastErr, p.health.transient, p.health.retryAt = nil, 0, time.Time{}
	case errors.Is(err, provider.ErrUnavailable):
		p.health.lastErr = err
		p.health.transient++
		p.health.retryAt = now.Add(p.settings.retry.delay(p.health.transient - 1))
		p.scheduleRetryLocked(now)
	default:
		p.health.lastErr = err
	}
	if c.intent == intentKeepalive && !p.held.grant.Access.IsZero() {
		p.armKeepaliveLocked()
	}
	for _, r := range retired {
		p.revokeInBackground(r)
	}
	if p.closed {
		// The keeper closed while this call ran: what it obtained is
		// revoked now rather than leaked; Close waits for it.
		if r, ok := p.forgetLocked(now); ok {
			p.revokeInBackground(r)
		}
	}
}

func (i intent) String() string {
	switch i {
	case intentProbe:
		return "probe"
	case intentKeepalive:
		return "keepalive"
	default:
		return "renew"
	}
}
