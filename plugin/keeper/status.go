package keeper

import "time"

// Status describes every profile, sorted by name, without secrets.
func (k *Keeper) Status() []Status {
	out := make([]Status, 0, len(k.names))
	for _, n := range k.names {
		out = append(out, k.profiles[n].status())
	}
	return out
}

// status describes the profile now, without secrets (see held.state).
func (p *profile) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	h := p.held
	s := Status{
		Profile: p.spec.Name, Provider: p.spec.Provider, URL: p.spec.URL,
		RefreshExpiresAt: h.refreshExp, Fingerprint: h.tok.Fingerprint,
		LastUsed: p.lastUsed, Counts: p.counts, KeepAliveUntil: h.promised(now),
	}
	if !h.grant.Access.IsZero() {
		s.AccessExpiresAt = h.expiry(now)
	}
	if p.health.lastErr != nil {
		s.LastError = p.health.lastErr.Error()
	}
	if c := p.inflight; c != nil && c.attempts > 0 {
		s.FailedAttempts, s.NextAttemptAt = c.attempts, c.nextAt
	}
	s.State, s.RetryAt = h.state(now, p.health)
	return s
}
