package keeper

import (
	"context"
	"fmt"
	"time"
)

// Transient-failure backoff: 200ms, 400ms, … capped at 5s, each ±20%.
const (
	retryBase = 200 * time.Millisecond
	retryMax  = 5 * time.Second
)

// backoff computes jittered exponential delays.
type backoff struct {
	base, max time.Duration
	rand      func() float64
	// waiting, if set, hears of each wait before a retry (progress for
	// a waiting caller).
	waiting func(d time.Duration)
}

// delay is the wait before retry n (n = 0 for the first retry).
func (b backoff) delay(n int) time.Duration {
	d := b.max
	if n < 30 {
		d = min(b.base<<n, b.max)
	}
	// Jitter so that profiles and processes hit by the same outage do not
	// retry in lockstep.
	return time.Duration(float64(d) * (0.8 + 0.4*b.rand()))
}

// retry runs op until it succeeds or fails with an error again rejects,
// waiting b's delays in between. It stops early when ctx ends or when the
// next wait would outlive ctx's deadline, returning the last error.
func retry(ctx context.Context, b backoff, op func(context.Context) error, again func(error) bool) error {
	for n := 0; ; n++ {
		err := op(ctx)
		if err == nil || !again(err) {
			return err
		}
		d := b.delay(n)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return fmt.Errorf("%w (gave up after %d attempts)", err, n+1)
		}
		if b.waiting != nil {
			b.waiting(d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up after %d attempts)", err, n+1)
		case <-t.C:
		}
	}
}
