package keeper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// defaultLifetime is assumed for an access token whose provider reported
// neither a lifetime nor an idle timeout: short, so a wrong guess costs a
// refresh rather than a 401.
const defaultLifetime = 5 * time.Minute

// unknownIdleFloor is the idle timeout assumed for a session whose server
// did not report one (Grant.IdleUnknown): Cloud Director configures it in
// whole minutes, so no server ends a session sooner than a minute after
// its last use. A session quiet for longer (less the safety slack) is
// probed before it is handed out, and hand-outs promise no more than this
// without the keepalive.
const unknownIdleFloor = time.Minute

// maxRounds bounds the shared calls one Get may wait for before it gives
// up with ErrUnavailable. Two are needed: a call that could not serve this
// caller (a keepalive in flight, a probe that kept the session alive but
// not long enough), then a renewal (TestGetAfterJoiningKeepalive). The
// third is headroom for a host invalidating the fresh token before this
// caller sees it; the bound only ends a loop that would not end otherwise.
const maxRounds = 3

// profile is the state machine of one profile. Methods ending in Locked
// need p.mu held.
type profile struct {
	name, provider, url string
	impl                Provider
	prober              Prober // nil when impl cannot probe
	refreshBefore       time.Duration
	keepalive           time.Duration
	account             provider.Account // whose lockout budget logins spend
	env                 *env
	log                 hclog.Logger

	// bg tracks background revocations (retired or orphaned grants) so
	// that Close can wait for them.
	bg sync.WaitGroup

	mu sync.Mutex // guards every field below

	closed bool
	// grant is the held grant; Access is zero when none is cached (the
	// refresh credential may outlive it).
	grant    provider.Grant
	tmpl     Token // the hand-out for grant, ExpiresAt aside
	lifetime time.Duration
	// freshLife is the access lifetime the upstream last reported (zero:
	// not known yet). Unlike lifetime it survives a revoke: it describes
	// the upstream, so that a request no fresh token could meet is refused
	// without asking it again.
	freshLife  time.Duration
	accessExp  time.Time // zero: no hard expiry (idle-timeout only)
	refreshExp time.Time // zero: the refresh credential does not expire
	acquiredAt time.Time // receipt of the current access token
	lastActive time.Time // last receipt, hand-out or successful probe
	lastUsed   time.Time // last Get
	// keepAliveUntil: a caller's min validity needs the idle-timeout
	// session alive until then; the keepalive probes it meanwhile.
	keepAliveUntil time.Time
	dead           bool // the held grant is known gone upstream
	lastErr        error
	counts         Counts
	guardRetryAt   time.Time // the lockout guard's last word, for the status only
	transient      int       // transient failures in a row
	retryAt        time.Time // no background retry before this
	inflight       *call     // the one upstream call of this profile, if any
	bgErr          error     // failures of background revocations after close

	refreshAt time.Time   // when the proactive refresh is due
	timer     *time.Timer // proactive refresh or retry
	timerGen  uint64      // invalidates callbacks of stopped timers
	keepTimer *time.Timer
	keepGen   uint64
}

func newProfile(s ProfileSpec, e *env, log hclog.Logger) *profile {
	p := &profile{
		name: s.Name, provider: s.Provider, url: s.URL, impl: s.Impl,
		refreshBefore: s.RefreshBefore, keepalive: s.Keepalive,
		account: s.Account, env: e, log: log,
	}
	p.prober, _ = s.Impl.(Prober)
	return p
}

// verdict is what the cache can do for one Get.
type verdict int

const (
	serveCached verdict = iota // hand out the cached token
	needProbe                  // it may have idled out: ask upstream cheaply
	needRenew                  // refresh or log in
)

// request is one Get as the state machine sees it.
type request struct {
	minValidity  time.Duration
	allowShorter bool // GetOptions.AllowShorter
	force        bool // go upstream first; cleared once a fresh token arrived
	gotFresh     bool // a call made for this Get installed a new token
}

func (p *profile) get(ctx context.Context, o GetOptions) (Token, error) {
	r := request{minValidity: o.MinValidity, allowShorter: o.AllowShorter, force: o.ForceRefresh}
	if r.minValidity <= 0 {
		r.minValidity = p.env.minValidity
	}
	start := time.Now()
	for round := 0; ; round++ {
		tok, c, err := p.serveOrStart(r, round)
		if c == nil {
			return tok, err
		}
		if tok, ok, err := p.wait(ctx, c, r, start); ok || err != nil {
			return tok, err
		}
		if c.err != nil && (c.intent == intentRenew || errors.Is(c.err, provider.ErrUnavailable)) {
			return p.afterFailure(c.err, r)
		}
		if c.fresh {
			r.force, r.gotFresh = false, true
		}
	}
}

// wait waits for call c to end. A caller that accepts a shorter-lived
// token is served the cached one as soon as an attempt of c fails
// transiently (ok), rather than waiting for c's retries; a caller whose
// ctx ends first gets an error naming the last failed attempt.
func (p *profile) wait(ctx context.Context, c *call, r request, start time.Time) (Token, bool, error) {
	failed := c.failed
	if !r.allowShorter {
		failed = nil
	}
	for {
		select {
		case <-c.done:
			return Token{}, false, nil
		case <-failed:
			failed = nil
			if tok, ok := p.serveShorter(c); ok {
				return tok, true, nil
			}
		case <-ctx.Done():
			return Token{}, false, p.gaveUp(c, r, time.Since(start), ctx.Err())
		}
	}
}

// gaveUp is the error of a caller whose ctx ended while call c went on,
// e.g. retrying a refused connection: it names c's last failed attempt so
// that the timeout does not hide the cause. errors.Is matches both ctxErr
// and the attempt's classification (provider.ErrUnavailable, …).
func (p *profile) gaveUp(c *call, r request, waited time.Duration, ctxErr error) error {
	p.mu.Lock()
	last := c.lastErr
	msg := fmt.Sprintf("profile %q: gave up waiting for upstream after %s", p.name, waited.Round(10*time.Millisecond))
	if now := time.Now(); p.unexpiredLocked(now) {
		msg += " (" + p.cachedLifeLocked(now, r.minValidity) + ")"
	}
	p.mu.Unlock()
	if last == nil {
		return fmt.Errorf("%s: %w", msg, ctxErr)
	}
	// The message names the profile once.
	step := attemptError{err: last, msg: p.trimName(last)}
	return fmt.Errorf("%s: last attempt: %w: %w", msg, step, ctxErr)
}

// attemptError shows a failed attempt under a shorter message.
type attemptError struct {
	err error
	msg string
}

func (e attemptError) Error() string { return e.msg }
func (e attemptError) Unwrap() error { return e.err }

// serveOrStart hands out the cached token when it qualifies (valid for
// r.minValidity plus the margin of that token), else returns the call in
// flight, starting one if needed. A request no fresh token could meet is
// refused before any upstream call once the token lifetime is known.
func (p *profile) serveOrStart(r request, round int) (Token, *call, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return Token{}, nil, fmt.Errorf("profile %q: %w", p.name, ErrClosed)
	}
	// A refused request is no use of the profile: it must not keep the
	// proactive refresh going.
	if err := p.impossibleLocked(r.minValidity); err != nil {
		return Token{}, nil, err
	}
	now := time.Now()
	if round == 0 {
		p.lastUsed = now
	}
	need := r.minValidity + p.marginLocked()
	v := p.checkLocked(now, need)
	if !r.force {
		if tok, done, err := p.answerLocked(r, v, need, now, round); done {
			return tok, nil, err
		}
	}
	c := p.inflight
	if c == nil {
		intent, reason := intentRenew, "forced"
		if !r.force {
			intent, reason = p.intentLocked(v)
		}
		c = p.startLocked(intent, reason)
	}
	if !r.allowShorter {
		// The call retries transient failures while the cached token
		// cannot serve its most demanding waiter.
		c.need = max(c.need, need)
	}
	return Token{}, c, nil
}

// answerLocked answers r without a new upstream call when it can (done):
// from the cache when it qualifies (verdict v for need), from the cache
// marked Shorter during a backoff when r accepts that, or with an error
// when a fresh token fell short too or r has waited for enough calls.
func (p *profile) answerLocked(r request, v verdict, need time.Duration, now time.Time, round int) (Token, bool, error) {
	switch {
	case v == serveCached:
		if err := p.keepAliveForLocked(now, r.minValidity); err != nil {
			return Token{}, true, err
		}
		p.kickLocked(now)
		return p.handOutLocked(now, "cache"), true, nil
	case r.allowShorter && now.Before(p.retryAt) && p.unexpiredLocked(now):
		return p.handOutShorterLocked(now, "backoff"), true, nil
	case r.gotFresh && v == needRenew && p.unexpiredLocked(now):
		return Token{}, true, fmt.Errorf("profile %q: a fresh token lives %s, asked for %s including the safety margin: %w",
			p.name, p.lifetime, need, ErrMinValidity)
	case round >= maxRounds:
		return Token{}, true, fmt.Errorf("profile %q: no usable token after %d upstream calls: %w", p.name, round, provider.ErrUnavailable)
	}
	return Token{}, false, nil
}

// impossibleLocked refuses a min validity that no fresh token could meet,
// once a grant has shown how long the upstream's tokens live: going
// upstream again would only mint another token too short for it.
func (p *profile) impossibleLocked(minValidity time.Duration) error {
	life := p.freshLife
	if life <= 0 {
		return nil
	}
	if need := minValidity + p.env.marginFor(life); need > life {
		return fmt.Errorf("profile %q: a fresh token lives %s, asked for %s including the safety margin: %w",
			p.name, life, need, ErrMinValidity)
	}
	return nil
}

func (p *profile) intentLocked(v verdict) (intent, string) {
	switch {
	case v == needProbe:
		return intentProbe, "idle"
	case p.grant.Access.IsZero():
		return intentRenew, "empty"
	default:
		return intentRenew, "expiring"
	}
}

// afterFailure answers a caller whose call failed with err. A transient
// failure leaves the cached token to callers it still satisfies, and to
// callers that accept a shorter-lived one; everyone else gets err,
// naming what the cached token still offers (DESIGN rule 7).
func (p *profile) afterFailure(err error, r request) (Token, error) {
	if !errors.Is(err, provider.ErrUnavailable) {
		return Token{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.closed || !p.unexpiredLocked(now) {
		return Token{}, err
	}
	if p.checkLocked(now, r.minValidity+p.marginLocked()) == serveCached {
		return p.handOutLocked(now, "cache"), nil
	}
	if r.allowShorter {
		return p.handOutShorterLocked(now, "stale"), nil
	}
	return Token{}, fmt.Errorf("profile %q: no token valid for the min validity can be had (%s): %w",
		p.name, p.cachedLifeLocked(now, r.minValidity), attemptError{err: err, msg: p.trimName(err)})
}

// serveShorter hands the cached token to a caller that accepts a
// shorter-lived one, once an attempt of call c failed transiently.
func (p *profile) serveShorter(c *call) (Token, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.closed || !errors.Is(c.lastErr, provider.ErrUnavailable) || !p.unexpiredLocked(now) {
		return Token{}, false
	}
	return p.handOutShorterLocked(now, "stale"), true
}

// handOutShorterLocked hands out the cached token although it does not
// meet the caller's min validity, marked so (GetOptions.AllowShorter).
func (p *profile) handOutShorterLocked(now time.Time, from string) Token {
	t := p.handOutLocked(now, from)
	t.Shorter = true
	p.log.Debug("upstream unavailable; serving the cached token shorter than asked", "fingerprint", t.Fingerprint,
		"expires_in", t.ExpiresAt.Sub(now), "error", p.lastErr)
	return t
}

// cachedLifeLocked describes the cached token's remaining life against
// what the caller asked, for errors.
func (p *profile) cachedLifeLocked(now time.Time, minValidity time.Duration) string {
	return fmt.Sprintf("the cached token expires in %s; asked for %s plus a safety margin of %s",
		p.expiryLocked(now).Sub(now).Round(time.Millisecond), minValidity, p.marginLocked())
}

// trimName is err's message without the leading profile name, so that a
// message naming the profile does not repeat it.
func (p *profile) trimName(err error) string {
	return strings.TrimPrefix(err.Error(), fmt.Sprintf("profile %q: ", p.name))
}

// checkLocked decides whether the cached token can serve a caller needing
// it valid for need.
func (p *profile) checkLocked(now time.Time, need time.Duration) verdict {
	if p.grant.Access.IsZero() {
		return needRenew
	}
	if !p.accessExp.IsZero() && p.accessExp.Sub(now) < need {
		return needRenew
	}
	// An idle-timeout session handed out recently is alive and each
	// hand-out extends it; one quiet for almost the timeout may be gone.
	// The slack is at most half the timeout: with a timeout shorter than
	// the safety margin a just-probed session would otherwise never serve.
	if idle := p.grant.IdleTimeout; idle > 0 && now.After(p.lastActive.Add(idle-p.idleSlackLocked())) {
		if p.prober != nil {
			return needProbe
		}
		return needRenew
	}
	return serveCached
}

// marginLocked is the safety margin of the cached access token: the
// configured one, at most a tenth of the token's lifetime. Without a token
// (or with an idle-timeout session of unknown lifetime) it is the
// configured margin.
func (p *profile) marginLocked() time.Duration {
	if p.grant.Access.IsZero() {
		return p.env.margin
	}
	return p.env.marginFor(p.lifetime)
}

// idleSlackLocked is the safety margin of an idle-timeout session: at
// most half the idle timeout, so that a session with a timeout shorter
// than the configured margin (a simulator's 2s) can serve at all.
func (p *profile) idleSlackLocked() time.Duration {
	return min(p.marginLocked(), p.grant.IdleTimeout/2)
}

// unexpiredLocked reports whether the cached token may still work, however
// short its remaining life.
func (p *profile) unexpiredLocked(now time.Time) bool {
	return !p.grant.Access.IsZero() && now.Before(p.expiryLocked(now))
}

// expiryLocked is when the cached token ends: its hard expiry or, for an
// idle-timeout session, the end of the idle period, whichever comes first.
// While the keepalive holds the session (it has not idled out, so every
// probe succeeded in time) the idle period ends no sooner than
// keepAliveUntil.
func (p *profile) expiryLocked(now time.Time) time.Time {
	exp := p.accessExp
	if idle := p.grant.IdleTimeout; idle > 0 {
		end := p.lastActive.Add(idle)
		if now.Before(end) && p.keepAliveUntil.After(end) {
			end = p.keepAliveUntil
		}
		if exp.IsZero() || end.Before(exp) {
			exp = end
		}
	}
	return exp
}

func (p *profile) handOutLocked(now time.Time, from string) Token {
	p.lastActive = now
	t := p.tmpl
	t.ExpiresAt = p.expiryLocked(now)
	if p.log.IsTrace() {
		p.log.Trace("token handed out", "op", "get", "from", from, "fingerprint", t.Fingerprint,
			"expires_in", t.ExpiresAt.Sub(now))
	}
	return t
}

// hasGrantLocked reports whether anything upstream-issued is held.
func (p *profile) hasGrantLocked() bool {
	return !p.grant.Access.IsZero() || !p.grant.Refresh.IsZero()
}

// liveLocked reports whether the held grant may still be alive upstream,
// i.e. whether revoking it does something.
func (p *profile) liveLocked(now time.Time) bool {
	if p.dead || !p.hasGrantLocked() {
		return false
	}
	if !p.grant.Refresh.IsZero() {
		return p.refreshExp.IsZero() || now.Before(p.refreshExp)
	}
	return p.unexpiredLocked(now)
}

func (p *profile) dropAccessLocked() {
	p.grant.Access = secret.Secret{}
	p.tmpl = Token{}
	p.accessExp = time.Time{}
	p.refreshAt = time.Time{}
	p.keepAliveUntil = time.Time{}
	p.stopTimerLocked()
	if p.grant.Refresh.IsZero() {
		p.stopKeepaliveLocked()
	}
}

func (p *profile) errorf(op string, err error) error {
	return fmt.Errorf("profile %q: %s: %w", p.name, op, err)
}
