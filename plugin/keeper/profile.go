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
)

// maxReasonLen bounds the caller-supplied invalidation reason in logs.
const maxReasonLen = 200

// maxRounds bounds the shared calls one Get may wait for before it gives
// up with ErrUnavailable. Two are needed: a call that could not serve this
// caller (a keepalive in flight, a probe that kept the session alive but
// not long enough), then a renewal (TestGetAfterJoiningKeepalive). The
// third is headroom for a host invalidating the fresh token before this
// caller sees it; the bound only ends a loop that would not end otherwise.
const maxRounds = 3

// profile is the state machine of one profile: it holds a grant (held)
// under its lock, runs the one upstream call in flight and the timers, and
// acts on what the decisions of held.go say. Methods ending in Locked need
// p.mu held; none of them decides anything a held method could.
type profile struct {
	spec     ProfileSpec
	prober   Prober // spec.Impl as a Prober; nil when it cannot probe
	settings *settings
	log      hclog.Logger

	// bg tracks background revocations (retired or orphaned grants) so
	// that Close can wait for them.
	bg sync.WaitGroup

	mu sync.Mutex // guards every field below

	closed bool
	held   held
	// freshLife is the access lifetime the upstream last reported (zero:
	// not known yet). Unlike held.lifetime it survives a revoke: it
	// describes the upstream, so that a request no fresh token could meet
	// is refused without asking it again.
	freshLife time.Duration
	lastUsed  time.Time // last Get
	health    health
	counts    Counts
	inflight  *call // the one upstream call of this profile, if any
	inv       invalidation
	relay     relayState
	bgErr     error // failures of background revocations after close
	timers    timers
}

// health is what the profile's latest upstream calls said.
type health struct {
	lastErr      error
	transient    int       // transient failures in a row
	retryAt      time.Time // no background retry before this
	guardRetryAt time.Time // the lockout guard's last word, for the status only
}

// timers are the proactive refresh (or retry) and the keepalive timer of
// a profile, guarded by profile.mu. A stopped timer's callback may run
// still: it carries the generation it was armed in and does nothing once
// that changed.
type timers struct {
	refresh    *time.Timer
	refreshGen uint64
	keep       *time.Timer
	keepGen    uint64
}

func newProfile(spec ProfileSpec, s *settings, log hclog.Logger) *profile {
	p := &profile{spec: spec, settings: s, log: log}
	p.prober, _ = spec.Impl.(Prober)
	return p
}

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
		r.minValidity = p.settings.minValidity
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
	msg := fmt.Sprintf("profile %q: gave up waiting for upstream after %s", p.spec.Name, waited.Round(10*time.Millisecond))
	if now := time.Now(); p.held.unexpired(now) {
		msg += " (" + p.held.lifeText(now, r.minValidity, p.settings) + ")"
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
		return Token{}, nil, fmt.Errorf("profile %q: %w", p.spec.Name, ErrClosed)
	}
	// A refused request is no use of the profile: it must not keep the
	// proactive refresh going.
	if need, no := impossible(p.freshLife, r.minValidity, p.settings); no {
		return Token{}, nil, fmt.Errorf("profile %q: a fresh token lives %s, asked for %s including the safety margin: %w",
			p.spec.Name, p.freshLife, need, ErrMinValidity)
	}
	now := time.Now()
	if round == 0 {
		p.lastUsed = now
	}
	need := r.minValidity + p.held.margin(p.settings)
	v := p.held.verdict(now, need, p.prober != nil, p.settings)
	if tok, done, err := p.answerLocked(r, v, need, now, round); done {
		return tok, nil, err
	}
	c := p.inflight
	if c == nil {
		intent, reason := intentRenew, "forced"
		if !r.force {
			intent, reason = p.held.intent(v)
		}
		c = p.startLocked(intent, reason)
	}
	if !r.allowShorter {
		// The call retries transient failures while the cached token
		// cannot serve its most demanding waiter.
		c.need = max(c.need, need)
		c.minValidity = max(c.minValidity, r.minValidity)
	}
	return Token{}, c, nil
}

// answerLocked answers r without a new upstream call when held.answer
// says it can (done): with the held token, marked Shorter or not, or with
// an error.
func (p *profile) answerLocked(r request, v verdict, need time.Duration, now time.Time, round int) (Token, bool, error) {
	switch p.held.answer(r, v, now, p.health.retryAt, round) {
	case fromCache:
		if err := p.keepAliveForLocked(now, r.minValidity); err != nil {
			return Token{}, true, err
		}
		p.kickLocked(now)
		return p.handOutLocked(now, "cache"), true, nil
	case shorter:
		return p.handOutShorterLocked(now, "backoff"), true, nil
	case freshTooShort:
		if _, relay := p.spec.Impl.(Relay); relay {
			if p.relayAgainLocked(need) && round < maxRounds {
				return Token{}, false, nil
			}
			return Token{}, true, fmt.Errorf("profile %q: the upstream keeper's token lasts %s, asked for %s including the safety margin: %w",
				p.spec.Name, p.held.lifetime, need, ErrMinValidity)
		}
		return Token{}, true, fmt.Errorf("profile %q: a fresh token lives %s, asked for %s including the safety margin: %w",
			p.spec.Name, p.held.lifetime, need, ErrMinValidity)
	case tooManyRounds:
		return Token{}, true, fmt.Errorf("profile %q: no usable token after %d upstream calls: %w", p.spec.Name, round, provider.ErrUnavailable)
	}
	return Token{}, false, nil
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
	if p.closed || !p.held.unexpired(now) {
		return Token{}, err
	}
	if p.held.verdict(now, r.minValidity+p.held.margin(p.settings), p.prober != nil, p.settings) == serveCached {
		return p.handOutLocked(now, "cache"), nil
	}
	if r.allowShorter {
		return p.handOutShorterLocked(now, "stale"), nil
	}
	return Token{}, fmt.Errorf("profile %q: no token valid for the min validity can be had (%s): %w",
		p.spec.Name, p.held.lifeText(now, r.minValidity, p.settings), attemptError{err: err, msg: p.trimName(err)})
}

// serveShorter hands the cached token to a caller that accepts a
// shorter-lived one, once an attempt of call c failed transiently.
func (p *profile) serveShorter(c *call) (Token, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.closed || !errors.Is(c.lastErr, provider.ErrUnavailable) || !p.held.unexpired(now) {
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
		"expires_in", t.ExpiresAt.Sub(now), "error", p.health.lastErr)
	return t
}

// handOutLocked hands out the held token at now: a use that extends an
// idle-timeout session.
func (p *profile) handOutLocked(now time.Time, from string) Token {
	p.held.lastActive = now
	t := p.held.tok
	t.ExpiresAt = p.held.expiry(now)
	if p.log.IsTrace() {
		p.log.Trace("token handed out", "op", "get", "from", from, "fingerprint", t.Fingerprint,
			"expires_in", t.ExpiresAt.Sub(now))
	}
	return t
}

// invalidate drops the held access token if fingerprint names it (a host
// just got a 401 with it) and reports whether it did.
func (p *profile) invalidate(fingerprint, reason string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	if fingerprint == "" || p.held.grant.Access.IsZero() || fingerprint != p.held.tok.Fingerprint {
		p.log.Trace("invalidation ignored: not the current token", "op", "invalidate",
			"fingerprint", fingerprint, "reason", reason)
		return false
	}
	// A session that got a 401 is gone; with its access token dropped and
	// no refresh credential, nothing is held that revoking could reach.
	p.dropAccessLocked()
	p.noteInvalidatedLocked(fingerprint, reason)
	p.log.Debug("access token invalidated", "op", "invalidate", "fingerprint", fingerprint, "reason", reason)
	return true
}

// dropAccessLocked forgets the access token and stops what served it.
func (p *profile) dropAccessLocked() {
	p.held.dropAccess()
	p.stopTimerLocked()
	if p.held.grant.Refresh.IsZero() {
		p.stopKeepaliveLocked()
	}
}

// trimName is err's message without the leading profile name, so that a
// message naming the profile does not repeat it.
func (p *profile) trimName(err error) string {
	return strings.TrimPrefix(err.Error(), fmt.Sprintf("profile %q: ", p.spec.Name))
}

func (p *profile) errorf(op string, err error) error {
	return fmt.Errorf("profile %q: %s: %w", p.spec.Name, op, err)
}
