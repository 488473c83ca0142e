package keeper

import (
	"time"
)

// refreshFraction of an access token's life passes before the proactive
// refresh, jittered by ±refreshJitter/2 of it so that profiles spread out.
const (
	refreshFraction = 2.0 / 3
	refreshJitter   = 0.06
)

// scheduleLocked arms the proactive refresh of a token received at now,
// at its refresh point (see held.refreshPoint).
func (p *profile) scheduleLocked(now time.Time) {
	p.stopTimerLocked()
	p.held.refreshAt = p.held.refreshPoint(p.spec.RefreshBefore, p.settings.rand, p.settings)
	if !p.held.refreshAt.IsZero() {
		p.armLocked(p.held.refreshAt.Sub(now))
	}
}

// scheduleRetryLocked retries a failed refresh at the health's retryAt
// while the cached token still serves; without one, the next Get retries.
func (p *profile) scheduleRetryLocked(now time.Time) {
	if p.closed || !p.held.unexpired(now) {
		return
	}
	p.stopTimerLocked()
	p.armLocked(p.health.retryAt.Sub(now))
}

func (p *profile) armLocked(d time.Duration) {
	p.timers.refreshGen++
	gen := p.timers.refreshGen
	p.timers.refresh = time.AfterFunc(d, func() { p.onTimer(gen) })
}

func (p *profile) stopTimerLocked() {
	p.timers.refreshGen++
	if p.timers.refresh != nil {
		p.timers.refresh.Stop()
		p.timers.refresh = nil
	}
}

// onTimer refreshes in the background, so that callers in steady state
// never wait for upstream — but only for a profile in use: a token nobody
// asked for since it arrived is left to expire.
func (p *profile) onTimer(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.timers.refreshGen {
		return
	}
	p.timers.refresh = nil
	if p.closed || p.inflight != nil {
		return
	}
	now := time.Now()
	if !p.held.inUse(p.lastUsed, now) {
		p.log.Debug("profile idle; proactive refresh skipped", "op", "schedule",
			"fingerprint", p.held.tok.Fingerprint, "last_used", p.lastUsed)
		return
	}
	if in, reason, ok := p.held.due(now, p.prober != nil, p.settings); ok {
		p.startLocked(in, reason)
	}
}

// kickLocked starts a background refresh when a Get served from the
// cache finds it due (see held.refreshDue) with no timer pending: the
// timer fired while the profile was idle.
func (p *profile) kickLocked(now time.Time) {
	if p.inflight != nil || p.timers.refresh != nil || !p.held.refreshDue(now, p.health) {
		return
	}
	p.startLocked(intentRenew, "due")
}
