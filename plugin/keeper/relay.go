package keeper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// fetch gets a grant from a Relay's upstream keeper, for the min
// validity c's waiters ask, outside the lockout guard (the upstream
// keeps it). It counts as a login, and its failure (a refused or failed
// read) as a login failure (see Counts); a transient failure stays
// retryable in the call.
func (p *profile) fetch(ctx context.Context, c *call, r Relay, retired *[]retiredGrant) error {
	p.mu.Lock()
	need := p.relayNeedLocked(c)
	p.mu.Unlock()
	started := time.Now()
	g, err := r.Fetch(ctx, need)
	if err == nil && p.stale(g.Access.Fingerprint()) {
		// The upstream handed out the token it had accepted to drop: the
		// fetch raced the invalidation. Pass it on again, fetch again.
		p.passOnInvalidation(ctx)
		g, err = r.Fetch(ctx, need)
	}
	if err != nil {
		p.mu.Lock()
		p.counts.LoginFailures++
		p.mu.Unlock()
		p.log.Debug("fetch failed", "op", "login", "took", time.Since(started), "need", need, "error", err)
		return p.errorf("get token from upstream keeper", p.upstreamError(err))
	}
	if e := overLimit(p.spec.Name, p.spec.MaxRole, g); e != nil {
		return p.refuseRole(ctx, e, g)
	}
	p.mu.Lock()
	p.relay.life = g.AccessLifetime
	p.mu.Unlock()
	p.loginSucceeded(c, g, started, retired)
	return nil
}

// upstreamError is a Relay's failure in this keeper's terms: the
// upstream guard's refusal is a GuardError naming the upstream, its
// min-validity refusal ErrMinValidity.
func (p *profile) upstreamError(err error) error {
	var gr *provider.GuardRefusal
	switch {
	case errors.As(err, &gr):
		return &GuardError{Profile: p.spec.Name, RetryAt: gr.RetryAt, Upstream: gr.Upstream, Cause: gr.Cause}
	case errors.Is(err, provider.ErrMinValidity):
		return fmt.Errorf("%w: %w", ErrMinValidity, err)
	}
	return err
}

// relayState is what a Relay profile knows of its upstream's tokens,
// guarded by profile.mu.
type relayState struct {
	// life is the lifetime of the last token fetched (zero: none yet),
	// asked the last fetch's min validity.
	life, asked time.Duration
}

// relayNeedLocked is the min validity to ask a Relay for in call c: what
// the waiters will check, their min validity (the default one for a
// proactive renewal, so that it serves default callers, rule 5) plus the
// margin of the upstream's last token. Before the first fetch that
// margin is unknown and left out: the full margin would be refused for
// tokens shorter than it; a token that falls short is fetched once more
// with the margin then known (relayAgainLocked).
func (p *profile) relayNeedLocked(c *call) time.Duration {
	mv := c.minValidity
	if mv <= 0 {
		mv = p.settings.minValidity
	}
	var margin time.Duration
	if p.relay.life > 0 {
		margin = p.settings.marginFor(p.relay.life)
	}
	p.relay.asked = mv + margin
	return p.relay.asked
}

// relayAgainLocked reports whether a Relay's fresh token that falls
// short of need is to be fetched again: the fetch asked less than need.
func (p *profile) relayAgainLocked(need time.Duration) bool {
	_, ok := p.spec.Impl.(Relay)
	return ok && p.relay.asked < need
}
