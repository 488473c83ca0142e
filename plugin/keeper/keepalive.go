package keeper

import (
	"fmt"
	"time"
)

// keepaliveDivisor: while a caller's min validity needs an idle-timeout
// session kept alive, it is probed every idle timeout / keepaliveDivisor,
// so that one failed probe still leaves time for the next.
const keepaliveDivisor = 3

// keepAliveForLocked makes an idle-timeout session (Cloud Director) stay
// valid for minValidity plus its safety margin, as DESIGN rule 2 promises:
// a hand-out extends it by the idle timeout, and when a caller needs
// longer the keepalive probes it until then (see held.keepAliveNeed). A
// session that nothing will keep alive (the provider cannot probe, or the
// keeper is one-shot) is refused with ErrMinValidity rather than handed
// out for less than was asked. The hard expiry was checked before
// (held.verdict).
func (p *profile) keepAliveForLocked(now time.Time, minValidity time.Duration) error {
	until, need, more := p.held.keepAliveNeed(now, minValidity, p.settings)
	if !more {
		return nil
	}
	if why := noKeepalive(p.prober != nil, p.settings.oneShot); why != "" {
		return fmt.Errorf("profile %q: the session ends after %s without use and %s; asked for %s including the safety margin: %w",
			p.spec.Name, p.held.grant.IdleTimeout, why, need, ErrMinValidity)
	}
	kept := p.held.keepalivePeriod(p.spec.Keepalive)
	p.held.keepAliveUntil = until
	period := p.held.keepalivePeriod(p.spec.Keepalive)
	if period != kept {
		p.armKeepaliveLocked() // the period shortens to idle/3
	}
	p.log.Debug("keeping the session alive for a caller's min validity", "op", "keepalive",
		"fingerprint", p.held.tok.Fingerprint, "until", until, "period", period)
	return nil
}

// armKeepaliveLocked (re)starts the keepalive timer for the held grant at
// the current period, or stops it when there is nothing to keep alive.
func (p *profile) armKeepaliveLocked() {
	p.stopKeepaliveLocked()
	d := p.held.keepalivePeriod(p.spec.Keepalive)
	if d <= 0 || p.prober == nil || p.closed {
		return
	}
	gen := p.timers.keepGen
	p.timers.keep = time.AfterFunc(d, func() { p.onKeepalive(gen) })
}

func (p *profile) stopKeepaliveLocked() {
	p.timers.keepGen++
	if p.timers.keep != nil {
		p.timers.keep.Stop()
		p.timers.keep = nil
	}
}

func (p *profile) onKeepalive(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.timers.keepGen || p.closed || p.held.grant.Access.IsZero() {
		return
	}
	p.timers.keep = nil
	if p.held.keepalivePeriod(p.spec.Keepalive) <= 0 {
		return // alive as long as callers asked
	}
	if p.inflight != nil {
		p.armKeepaliveLocked()
		return
	}
	p.startLocked(intentKeepalive, "keepalive")
}
