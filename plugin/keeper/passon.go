package keeper

import "context"

// invalidation is a dropped token to pass on to an Invalidator, and what
// became of the last one. Guarded by profile.mu.
type invalidation struct {
	// pending is the fingerprint (and reason) not passed on yet: the
	// profile's next upstream call passes it on before anything else, so
	// that the single flight orders it before the fetch that replaces the
	// token (rule 3).
	pending, reason string
	// accepted is the fingerprint the upstream last accepted the
	// invalidation of: a Relay that still hands it out raced the
	// invalidation and is asked once more. A refused invalidation is not
	// remembered: the upstream replaces its token at its next refresh, and
	// meanwhile what it hands out is handed out.
	accepted string
}

// noteInvalidatedLocked records the token fingerprint names as to be
// passed on, when the provider is an Invalidator.
func (p *profile) noteInvalidatedLocked(fingerprint, reason string) {
	if _, ok := p.spec.Impl.(Invalidator); ok {
		p.inv.pending, p.inv.reason = fingerprint, reason
	}
}

// passOnInvalidation runs at the start of every upstream attempt: it
// tells the Invalidator of a pending invalidation, bounded by
// InvalidateTimeout. A failure is logged, not returned: the local token
// is gone either way, and the upstream's next refresh replaces it there.
func (p *profile) passOnInvalidation(ctx context.Context) {
	inv, ok := p.spec.Impl.(Invalidator)
	if !ok {
		return
	}
	p.mu.Lock()
	fp, reason := p.inv.pending, p.inv.reason
	p.inv.pending, p.inv.reason = "", ""
	p.mu.Unlock()
	if fp == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, InvalidateTimeout)
	defer cancel()
	err := inv.Invalidate(ctx, fp, reason)
	p.mu.Lock()
	if err == nil {
		p.inv.accepted = fp
	} else if p.inv.accepted == fp {
		p.inv.accepted = ""
	}
	p.mu.Unlock()
	if err != nil {
		p.log.Warn("could not pass the invalidation on upstream", "op", "invalidate", "fingerprint", fp, "error", err)
		return
	}
	p.log.Debug("invalidation passed on upstream", "op", "invalidate", "fingerprint", fp)
}

// stale reports whether a Relay handed out the token fingerprint names
// although it was invalidated while the fetch ran (pending) or the
// upstream accepted its invalidation (the fetch raced it), and makes it
// pending so that the next pass tells the upstream.
func (p *profile) stale(fingerprint string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fingerprint == "" || (fingerprint != p.inv.accepted && fingerprint != p.inv.pending) {
		return false
	}
	if p.inv.pending != fingerprint {
		p.inv.pending, p.inv.reason = fingerprint, "handed out again after an invalidation"
	}
	p.inv.accepted = ""
	return true
}

// passOnNow starts (or joins) the upstream call that passes a pending
// invalidation on, and waits for it, bounded by InvalidateTimeout: an
// Invalidator hears of the invalidation before Keeper.Invalidate returns.
// A call that was in flight already may have passed its start: it is
// waited for and one more is started.
func (p *profile) passOnNow(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), InvalidateTimeout)
	defer cancel()
	for range 2 {
		p.mu.Lock()
		if p.closed || p.inv.pending == "" {
			p.mu.Unlock()
			return
		}
		c := p.inflight
		if c == nil {
			c = p.startLocked(intentRenew, "invalidated")
		}
		p.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return
		}
	}
}
