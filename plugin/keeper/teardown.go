package keeper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// revoke waits for the call in flight, then forgets the profile's state and
// logs the grant out upstream.
func (p *profile) revoke(ctx context.Context) error {
	if err := p.waitIdle(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	r, ok := p.forgetLocked(time.Now())
	p.mu.Unlock()
	if !ok {
		return nil
	}
	return p.revokeGrant(ctx, r)
}

// detach waits for the call in flight, then forgets the profile's state and
// revokes what the provider can revoke without ending the access token.
func (p *profile) detach(ctx context.Context) error {
	if err := p.waitIdle(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	r, ok := p.forgetLocked(time.Now())
	p.mu.Unlock()
	d, can := p.spec.Impl.(Detacher)
	if !ok || !can {
		p.log.Debug("profile detached; nothing revoked", "op", "detach", "fingerprint", r.fp)
		return nil
	}
	return p.end(ctx, r, "detach", d.Detach)
}

// waitIdle waits until no upstream call is in flight. A new one may start
// right after; callers that must exclude that hold p.closed.
func (p *profile) waitIdle(ctx context.Context) error {
	for {
		p.mu.Lock()
		c := p.inflight
		p.mu.Unlock()
		if c == nil {
			return nil
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return fmt.Errorf("profile %q: waiting for the upstream call in flight: %w", p.spec.Name, ctx.Err())
		}
	}
}

// markClosed fails later Gets and stops the timers.
func (p *profile) markClosed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.stopTimerLocked()
	p.stopKeepaliveLocked()
}

// shutdown revokes, within ctx, what the closed profile holds: the held
// grant at once, even while a call is in flight (Close has cancelled it,
// and waiting for it could use up ctx), then what that call obtained
// before it stopped and the grants retired in the background (finishLocked
// hands both to p.bg).
func (p *profile) shutdown(ctx context.Context) error {
	p.mu.Lock()
	r, ok := p.forgetLocked(time.Now())
	p.mu.Unlock()
	var errs []error
	if ok {
		errs = append(errs, p.revokeGrant(ctx, r))
	}
	// Once no call is in flight none can start (p.closed): p.bg is
	// complete and may be waited for.
	if err := p.waitIdle(ctx); err != nil {
		return errors.Join(append(errs, err)...)
	}
	done := make(chan struct{})
	go func() { p.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("profile %q: waiting for revocations: %w", p.spec.Name, ctx.Err()))
	}
	p.mu.Lock()
	errs = append(errs, p.bgErr)
	p.mu.Unlock()
	return errors.Join(errs...)
}

// retiredGrant is a grant taken out of the profile to be revoked.
type retiredGrant struct {
	g  provider.Grant
	fp string // fingerprint of its access token, for logs
}

// forgetLocked clears the profile's state and returns the grant to revoke,
// if it may still be alive upstream. Counts, last use and the lockout
// guard stay: logging out must not reopen the door to locking the account.
func (p *profile) forgetLocked(now time.Time) (retiredGrant, bool) {
	r := retiredGrant{g: p.held.grant, fp: p.held.tok.Fingerprint}
	live := p.held.live(now)
	p.stopTimerLocked()
	p.stopKeepaliveLocked()
	p.held = held{}
	p.health = health{guardRetryAt: p.health.guardRetryAt}
	return r, live
}

// revokeInBackground revokes r without holding up the callers of the call
// that replaced it; Close waits for it through p.bg.
func (p *profile) revokeInBackground(r retiredGrant) {
	p.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.settings.callTimeout)
		defer cancel()
		if err := p.revokeGrant(ctx, r); err != nil {
			p.mu.Lock()
			if p.closed {
				p.bgErr = errors.Join(p.bgErr, err)
			}
			p.mu.Unlock()
		}
	})
}

func (p *profile) revokeGrant(ctx context.Context, r retiredGrant) error {
	return p.end(ctx, r, "revoke", p.spec.Impl.Revoke)
}

// end revokes r upstream with fn (Provider.Revoke or Detacher.Detach),
// counting and logging it as op.
func (p *profile) end(ctx context.Context, r retiredGrant, op string, fn func(context.Context, provider.Grant) error) error {
	start := time.Now()
	err := fn(ctx, r.g)
	took := time.Since(start)
	p.mu.Lock()
	if err == nil {
		p.counts.Revocations++
	}
	p.mu.Unlock()
	if err != nil {
		p.log.Debug(op+" failed", "op", op, "fingerprint", r.fp, "took", took, "error", err)
		return p.errorf(op, err)
	}
	p.log.Debug("grant revoked", "op", op, "fingerprint", r.fp,
		"refresh_fingerprint", r.g.Refresh.Fingerprint(), "took", took)
	return nil
}
