package keeper

import (
	"errors"
	"fmt"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/role"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// This file is the keeper's decision core: what a profile holds (held)
// and pure functions of it, the time now and the settings, which decide
// whether a Get is served, when a token expires, when it is refreshed,
// how long the keepalive probes. They take no lock, start no timer and do
// no I/O; the profile (profile.go) keeps one held value under its lock and
// acts on what they decide. A new rule goes here, with its row in
// held_test.go.

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

// held is what a profile holds of its upstream grant: the grant and the
// times derived from it. The zero value holds nothing. A field that a
// later grant kind needs (a role, a principal) goes into provider.Grant
// or here, and is set by received.
type held struct {
	// grant is the held grant; Access is zero when none is cached (the
	// refresh credential may outlive it).
	grant      provider.Grant
	tok        Token         // the hand-out for grant, ExpiresAt aside
	lifetime   time.Duration // of the access token; 0: an idle-timeout session of unknown life
	accessExp  time.Time     // zero: no hard expiry (idle-timeout only)
	refreshExp time.Time     // zero: the refresh credential does not expire
	acquiredAt time.Time     // receipt of the current access token
	lastActive time.Time     // last receipt, hand-out or successful probe
	refreshAt  time.Time     // when the proactive refresh is due; zero: none
	// keepAliveUntil: a caller's min validity needs the idle-timeout
	// session alive until then; the keepalive probes it meanwhile.
	keepAliveUntil time.Time
	dead           bool // the held grant is known gone upstream
}

// received is what a profile holds once grant g arrived at now: the
// defaults filled in where the provider said nothing (the Authorization
// header with a Bearer token type, the idle floor of a session whose
// timeout the server did not report, a short lifetime for a token that
// reports none) and the hand-out made for profile name of provider prov.
// refreshExp is when g's refresh credential ends (zero: never). The
// refresh point is left to the caller, which draws its jitter.
func received(g provider.Grant, now, refreshExp time.Time, name, prov string) held {
	if g.HeaderName == "" {
		g.HeaderName = provider.HeaderAuthorization
	}
	if g.TokenType == "" && g.HeaderName == provider.HeaderAuthorization {
		g.TokenType = "Bearer"
	}
	if g.IdleUnknown && g.IdleTimeout <= 0 {
		g.IdleTimeout = unknownIdleFloor
	}
	life := g.AccessLifetime
	if life <= 0 && g.IdleTimeout <= 0 {
		life = defaultLifetime
	}
	return held{
		grant: g, lifetime: life, accessExp: expiryAfter(now, life), refreshExp: refreshExp,
		acquiredAt: now, lastActive: now,
		tok: Token{
			Profile: name, Provider: prov, Access: g.Access, TokenType: g.TokenType,
			HeaderName: g.HeaderName, HeaderValue: g.HeaderValue(), Fingerprint: g.Access.Fingerprint(),
			Principal: g.Principal, Role: role.Join(g.Roles),
		},
	}
}

// expiryAfter is now+d, or the zero time (no expiry) when d is not positive.
func expiryAfter(now time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return now.Add(d)
}

// dropAccess forgets the access token, keeping the refresh credential.
func (h *held) dropAccess() {
	h.grant.Access = secret.Secret{}
	h.tok = Token{}
	h.accessExp, h.refreshAt, h.keepAliveUntil = time.Time{}, time.Time{}, time.Time{}
}

// verdict is what the cache can do for one Get. Whether a renewal
// refreshes or logs in is not the verdict's to say: profile.attempt
// decides it when the call runs (held.refreshable), and again after a
// rejected refresh.
type verdict int

const (
	serveCached verdict = iota // hand out the held token
	needProbe                  // it may have idled out: ask upstream cheaply
	needRenew                  // get a new access token
)

// verdict decides whether the held token can serve a caller needing it
// valid for need at now. An idle-timeout session handed out recently is
// alive and each hand-out extends it; one quiet for almost the timeout
// may be gone, and is probed when the provider can probe (canProbe).
func (h held) verdict(now time.Time, need time.Duration, canProbe bool, s *settings) verdict {
	switch idle := h.grant.IdleTimeout; {
	case h.grant.Access.IsZero():
		return needRenew
	case !h.accessExp.IsZero() && h.accessExp.Sub(now) < need:
		return needRenew
	case idle > 0 && now.After(h.lastActive.Add(idle-h.idleSlack(s))):
		if canProbe {
			return needProbe
		}
		return needRenew
	}
	return serveCached
}

// answer is how a Get is answered without a new upstream call, if it is.
type answer int

const (
	goUpstream    answer = iota // wait for the shared call, starting one if needed
	fromCache                   // hand out the held token
	shorter                     // hand it out marked Shorter (GetOptions.AllowShorter)
	freshTooShort               // a fresh token fell short of the request too: ErrMinValidity
	tooManyRounds               // the request waited for maxRounds calls: ErrUnavailable
)

// answer decides how request r, in its round-th pass (the shared calls it
// waited for so far), is answered at now, given the verdict v on the held
// token and a backoff running until retryAt. A forced request goes
// upstream; one the token serves gets it; one that accepts a shorter-lived
// token gets it while the backoff runs; one a fresh token has already
// failed to satisfy, or that has waited long enough, gets an error.
func (h held) answer(r request, v verdict, now, retryAt time.Time, round int) answer {
	switch {
	case r.force:
		return goUpstream
	case v == serveCached:
		return fromCache
	case r.allowShorter && now.Before(retryAt) && h.unexpired(now):
		return shorter
	case r.gotFresh && v == needRenew && h.unexpired(now):
		return freshTooShort
	case round >= maxRounds:
		return tooManyRounds
	}
	return goUpstream
}

// refreshable reports whether the held refresh credential may mint an
// access token at now: it is held, not known dead, and further from its
// expiry than its safety margin.
func (h held) refreshable(now time.Time, s *settings) bool {
	return !h.grant.Refresh.IsZero() && !h.dead &&
		(h.refreshExp.IsZero() || h.refreshExp.Sub(now) > s.marginFor(h.grant.RefreshLifetime))
}

// intent is the shared call that verdict v starts, and why.
func (h held) intent(v verdict) (intent, string) {
	switch {
	case v == needProbe:
		return intentProbe, "idle"
	case h.grant.Access.IsZero():
		return intentRenew, "empty"
	default:
		return intentRenew, "expiring"
	}
}

// margin is the safety margin of the held access token: the configured
// one, at most a tenth of the token's lifetime. Without a token (or with
// an idle-timeout session of unknown lifetime) it is the configured one.
func (h held) margin(s *settings) time.Duration {
	if h.grant.Access.IsZero() {
		return s.margin
	}
	return s.marginFor(h.lifetime)
}

// idleSlack is the safety margin of an idle-timeout session: at most half
// the idle timeout, so that a session with a timeout shorter than the
// configured margin (a simulator's 2s) can serve at all.
func (h held) idleSlack(s *settings) time.Duration {
	return min(h.margin(s), h.grant.IdleTimeout/2)
}

// expiry is when the held token ends: its hard expiry or, for an
// idle-timeout session, the end of the idle period, whichever comes
// first. While the keepalive holds the session (it has not idled out, so
// every probe succeeded in time) the idle period ends no sooner than
// keepAliveUntil.
func (h held) expiry(now time.Time) time.Time {
	exp := h.accessExp
	if idle := h.grant.IdleTimeout; idle > 0 {
		end := h.lastActive.Add(idle)
		if now.Before(end) && h.keepAliveUntil.After(end) {
			end = h.keepAliveUntil
		}
		if exp.IsZero() || end.Before(exp) {
			exp = end
		}
	}
	return exp
}

// unexpired reports whether the held token may still work at now, however
// short its remaining life.
func (h held) unexpired(now time.Time) bool {
	return !h.grant.Access.IsZero() && now.Before(h.expiry(now))
}

// lasts reports whether the held token stays valid for at least d from
// now.
func (h held) lasts(now time.Time, d time.Duration) bool {
	return h.unexpired(now) && h.expiry(now).Sub(now) >= d
}

// holds reports whether anything upstream-issued is held.
func (h held) holds() bool {
	return !h.grant.Access.IsZero() || !h.grant.Refresh.IsZero()
}

// live reports whether the held grant may still be alive upstream at now,
// i.e. whether revoking it does something.
func (h held) live(now time.Time) bool {
	if h.dead || !h.holds() {
		return false
	}
	if !h.grant.Refresh.IsZero() {
		return h.refreshExp.IsZero() || now.Before(h.refreshExp)
	}
	return h.unexpired(now)
}

// refreshPoint is when the held token should be refreshed ahead of
// expiry: expiry − refreshBefore when that is positive and shorter than
// the life, else at about two thirds of it, jittered by a value jitter
// returns (in [0, 1)), drawn only then: jitter also feeds the retry
// backoff, so a draw nobody uses would shift its sequence; never later than expiry − the token's safety margin − the
// default min validity, past which a caller asking the default validity
// would have to wait for upstream. Zero for an idle-timeout session:
// probes and the keepalive handle it.
func (h held) refreshPoint(refreshBefore time.Duration, jitter func() float64, s *settings) time.Time {
	if h.accessExp.IsZero() {
		return time.Time{}
	}
	var at time.Time
	if rb := refreshBefore; rb > 0 && rb < h.lifetime {
		at = h.accessExp.Add(-rb)
	} else {
		f := refreshFraction * (1 + refreshJitter*(jitter()-0.5))
		at = h.acquiredAt.Add(time.Duration(f * float64(h.lifetime)))
	}
	if latest := h.accessExp.Add(-h.margin(s) - s.minValidity); at.After(latest) {
		at = latest
	}
	if at.Before(h.acquiredAt) {
		at = h.acquiredAt
	}
	return at
}

// inUse reports whether the profile, last asked at lastUsed, is in use at
// now: a Get came since the held token arrived, within one access
// lifetime (or idle timeout).
func (h held) inUse(lastUsed, now time.Time) bool {
	return lastUsed.After(h.acquiredAt) && now.Sub(lastUsed) < max(h.lifetime, h.grant.IdleTimeout)
}

// due is the background call the profile's timer starts at now, if any
// (ok): a renewal when a caller asking the default min validity could not
// be served or the refresh point has come, a probe when the session may
// have idled out. The timer also retries a failed call; what is due
// depends on why.
func (h held) due(now time.Time, canProbe bool, s *settings) (in intent, reason string, ok bool) {
	switch v := h.verdict(now, h.margin(s)+s.minValidity, canProbe, s); {
	case v == needRenew || !h.refreshAt.IsZero() && !now.Before(h.refreshAt):
		return intentRenew, "proactive", true
	case v == needProbe:
		return intentProbe, "idle", true
	}
	return intentRenew, "", false
}

// refreshDue reports whether a Get at now that was served from the cache
// should start a background refresh (the timer fired while the profile
// was idle): the refresh point has passed, no backoff runs, and the last
// failure, if any, is one that retrying can fix. After a forbidden or a
// bad configuration the renewal is left to callers that need it, rather
// than calling upstream on every Get.
func (h held) refreshDue(now time.Time, hl health) bool {
	return !h.refreshAt.IsZero() && !now.Before(h.refreshAt) && !now.Before(hl.retryAt) &&
		(hl.lastErr == nil || errors.Is(hl.lastErr, provider.ErrUnavailable))
}

// keepAliveNeed is how an idle-timeout session must be kept alive for a
// caller asking minValidity at now: need is the validity asked including
// the session's slack, until the end of it, and more whether that goes
// beyond what a hand-out (which extends the session by its timeout) and
// the keepalive promised so far give.
func (h held) keepAliveNeed(now time.Time, minValidity time.Duration, s *settings) (until time.Time, need time.Duration, more bool) {
	idle := h.grant.IdleTimeout
	if idle <= 0 {
		return time.Time{}, 0, false
	}
	need = minValidity + h.idleSlack(s)
	until = now.Add(need)
	return until, need, need > idle && until.After(h.keepAliveUntil)
}

// keepalivePeriod is how often the held session is probed: every
// configured (the profile's Keepalive), or idle/keepaliveDivisor while
// the session would otherwise idle out before keepAliveUntil; 0 for not
// at all. A configured period never exceeds idle/keepaliveDivisor of the
// session's real (reported or configured) idle timeout: a slower
// keepalive would keep nothing alive. Under an assumed timeout
// (Grant.IdleUnknown) the configured period stands: whoever set it knows
// the server better.
func (h held) keepalivePeriod(configured time.Duration) time.Duration {
	d := configured
	idle := h.grant.IdleTimeout
	if idle <= 0 {
		return d
	}
	short := idle / keepaliveDivisor
	switch {
	case d > short && !h.grant.IdleUnknown:
		d = short
	case (d <= 0 || short < d) && h.lastActive.Add(idle).Before(h.keepAliveUntil):
		d = short
	}
	return d
}

// noKeepalive says why a session cannot be kept alive, or returns "" when
// it can: the provider must be able to probe, and the process must live
// on after the call.
func noKeepalive(canProbe, oneShot bool) string {
	switch {
	case !canProbe:
		return "this provider cannot keep it alive"
	case oneShot:
		return "nothing keeps it alive after this one-shot call"
	}
	return ""
}

// impossible reports whether no fresh token could meet minValidity, once
// a grant has shown that the upstream's tokens live freshLife (0: not
// known yet), and the validity that is asked including the margin.
func impossible(freshLife, minValidity time.Duration, s *settings) (need time.Duration, no bool) {
	if freshLife <= 0 {
		return 0, false
	}
	need = minValidity + s.marginFor(freshLife)
	return need, need > freshLife
}

// lifeText describes the held token's remaining life at now against what
// a caller asked, for errors.
func (h held) lifeText(now time.Time, minValidity time.Duration, s *settings) string {
	return fmt.Sprintf("the cached token expires in %s; asked for %s plus a safety margin of %s",
		h.expiry(now).Sub(now).Round(time.Millisecond), minValidity, h.margin(s))
}
