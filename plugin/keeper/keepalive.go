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
// longer the keepalive probes it until then. A session that nothing will
// keep alive (the provider cannot probe, or the keeper is one-shot) is
// refused with ErrMinValidity rather than handed out for less than was
// asked. The hard expiry was checked before (checkLocked).
func (p *profile) keepAliveForLocked(now time.Time, minValidity time.Duration) error {
	idle := p.grant.IdleTimeout
	if idle <= 0 {
		return nil
	}
	need := minValidity + p.idleSlackLocked()
	until := now.Add(need)
	if need <= idle || !until.After(p.keepAliveUntil) {
		return nil
	}
	if why := p.noKeepaliveLocked(); why != "" {
		return fmt.Errorf("profile %q: the session ends after %s without use and %s; asked for %s including the safety margin: %w",
			p.name, idle, why, need, ErrMinValidity)
	}
	kept := p.keepalivePeriodLocked()
	p.keepAliveUntil = until
	if p.keepalivePeriodLocked() != kept {
		p.armKeepaliveLocked() // the period shortens to idle/3
	}
	p.log.Debug("keeping the session alive for a caller's min validity", "op", "keepalive",
		"fingerprint", p.tmpl.Fingerprint, "until", until, "period", p.keepalivePeriodLocked())
	return nil
}

// noKeepaliveLocked says why the keeper cannot keep a session alive, or
// returns "" when it can.
func (p *profile) noKeepaliveLocked() string {
	switch {
	case p.prober == nil:
		return "this provider cannot keep it alive"
	case p.env.oneShot:
		return "nothing keeps it alive after this one-shot call"
	}
	return ""
}

// keepalivePeriodLocked is how often the session is probed now: the
// profile's Keepalive, or idle/keepaliveDivisor while the session would
// otherwise idle out before keepAliveUntil; 0 for not at all. A
// configured period never exceeds idle/keepaliveDivisor of the session's
// real (reported or configured) idle timeout: a slower keepalive would
// keep nothing alive. Under an assumed timeout (Grant.IdleUnknown) the
// configured period stands: whoever set it knows the server better.
func (p *profile) keepalivePeriodLocked() time.Duration {
	d := p.keepalive
	idle := p.grant.IdleTimeout
	if idle <= 0 {
		return d
	}
	short := idle / keepaliveDivisor
	switch {
	case d > short && !p.grant.IdleUnknown:
		d = short
	case (d <= 0 || short < d) && p.lastActive.Add(idle).Before(p.keepAliveUntil):
		d = short
	}
	return d
}

// armKeepaliveLocked (re)starts the keepalive timer for the held grant at
// the current period, or stops it when there is nothing to keep alive.
func (p *profile) armKeepaliveLocked() {
	p.stopKeepaliveLocked()
	d := p.keepalivePeriodLocked()
	if d <= 0 || p.prober == nil || p.closed {
		return
	}
	gen := p.keepGen
	p.keepTimer = time.AfterFunc(d, func() { p.onKeepalive(gen) })
}

func (p *profile) stopKeepaliveLocked() {
	p.keepGen++
	if p.keepTimer != nil {
		p.keepTimer.Stop()
		p.keepTimer = nil
	}
}

func (p *profile) onKeepalive(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.keepGen || p.closed || p.grant.Access.IsZero() {
		return
	}
	p.keepTimer = nil
	if p.keepalivePeriodLocked() <= 0 {
		return // alive as long as callers asked
	}
	if p.inflight != nil {
		p.armKeepaliveLocked()
		return
	}
	p.startLocked(intentKeepalive, "keepalive")
}
