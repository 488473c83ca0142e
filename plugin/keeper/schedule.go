package keeper

import (
	"errors"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// refreshFraction of an access token's life passes before the proactive
// refresh, jittered by ±refreshJitter/2 of it so that profiles spread out.
const (
	refreshFraction = 2.0 / 3
	refreshJitter   = 0.06
)

// refreshPointLocked is when the current token should be refreshed ahead of
// expiry: expiry − RefreshBefore when configured and shorter than the life,
// else at about two thirds of it; never later than expiry − the token's
// safety margin − the default min validity, past which a caller asking the
// default validity would have to wait for upstream.
func (p *profile) refreshPointLocked() time.Time {
	if p.accessExp.IsZero() {
		return time.Time{} // idle-timeout session: probes and keepalive handle it
	}
	var at time.Time
	if rb := p.refreshBefore; rb > 0 && rb < p.lifetime {
		at = p.accessExp.Add(-rb)
	} else {
		f := refreshFraction * (1 + refreshJitter*(p.env.rand()-0.5))
		at = p.acquiredAt.Add(time.Duration(f * float64(p.lifetime)))
	}
	if latest := p.accessExp.Add(-p.marginLocked() - p.env.minValidity); at.After(latest) {
		at = latest
	}
	if at.Before(p.acquiredAt) {
		at = p.acquiredAt
	}
	return at
}

// scheduleLocked arms the proactive refresh of a token received at now.
func (p *profile) scheduleLocked(now time.Time) {
	p.stopTimerLocked()
	p.refreshAt = p.refreshPointLocked()
	if !p.refreshAt.IsZero() {
		p.armLocked(p.refreshAt.Sub(now))
	}
}

// scheduleRetryLocked retries a failed refresh at p.retryAt while the cached
// token still serves; without one, the next Get retries.
func (p *profile) scheduleRetryLocked(now time.Time) {
	if p.closed || !p.unexpiredLocked(now) {
		return
	}
	p.stopTimerLocked()
	p.armLocked(p.retryAt.Sub(now))
}

func (p *profile) armLocked(d time.Duration) {
	p.timerGen++
	gen := p.timerGen
	p.timer = time.AfterFunc(d, func() { p.onTimer(gen) })
}

func (p *profile) stopTimerLocked() {
	p.timerGen++
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// onTimer refreshes in the background, so that callers in steady state
// never wait for upstream — but only for a profile in use: a token nobody
// asked for since it arrived is left to expire.
func (p *profile) onTimer(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.timerGen {
		return
	}
	p.timer = nil
	if p.closed || p.inflight != nil {
		return
	}
	now := time.Now()
	if !p.inUseLocked(now) {
		p.log.Debug("profile idle; proactive refresh skipped", "op", "schedule",
			"fingerprint", p.tmpl.Fingerprint, "last_used", p.lastUsed)
		return
	}
	// The timer also retries a failed call; what is due depends on why.
	switch v := p.checkLocked(now, p.marginLocked()+p.env.minValidity); {
	case v == needRenew || !p.refreshAt.IsZero() && !now.Before(p.refreshAt):
		p.startLocked(intentRenew, "proactive")
	case v == needProbe:
		p.startLocked(intentProbe, "idle")
	}
}

// kickLocked starts a background refresh when a Get finds the token past
// its refresh point with no timer pending (it fired while the profile was
// idle) — the Get itself is served from the cache. After a failure that
// retrying cannot fix (forbidden, bad config) it leaves the renewal to
// callers that need it, rather than calling upstream on every Get.
func (p *profile) kickLocked(now time.Time) {
	if p.inflight != nil || p.timer != nil || p.refreshAt.IsZero() ||
		now.Before(p.refreshAt) || now.Before(p.retryAt) ||
		p.lastErr != nil && !errors.Is(p.lastErr, provider.ErrUnavailable) {
		return
	}
	p.startLocked(intentRenew, "due")
}

// inUseLocked: a Get came since the current token arrived, within one
// access lifetime.
func (p *profile) inUseLocked(now time.Time) bool {
	return p.lastUsed.After(p.acquiredAt) && now.Sub(p.lastUsed) < max(p.lifetime, p.grant.IdleTimeout)
}
