package agent

import (
	"context"
	"sync"
	"time"
)

// Idle tracks activity: the agent is idle once no call has been in flight
// for the timeout. Time is read from the runtime clock, so tests drive it
// with testing/synctest.
type Idle struct {
	timeout time.Duration

	mu     sync.Mutex // guards active and last
	active int        // calls in flight
	last   time.Time  // when the last call ended (or Idle was made)
}

// NewIdle starts tracking; the agent counts as used at creation.
func NewIdle(timeout time.Duration) *Idle {
	return &Idle{timeout: timeout, last: time.Now()}
}

// Begin marks a call in flight.
func (i *Idle) Begin() {
	i.mu.Lock()
	i.active++
	i.mu.Unlock()
}

// End marks a call finished.
func (i *Idle) End() {
	i.mu.Lock()
	i.active--
	i.last = time.Now()
	i.mu.Unlock()
}

// Wait returns nil once the agent has been idle for the timeout, or ctx's
// error. A timeout of zero or less never expires.
func (i *Idle) Wait(ctx context.Context) error {
	if i.timeout <= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	for {
		i.mu.Lock()
		wait := i.timeout // a call in flight: look again later
		if i.active == 0 {
			wait = time.Until(i.last.Add(i.timeout))
		}
		i.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
