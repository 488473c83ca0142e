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

// snapshot returns the calls in flight and when the last one ended.
func (i *Idle) snapshot() (active int, last time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.active, i.last
}

// TrimWhenQuiet calls trim once after every burst of calls, as soon as none
// has run for quiet, until ctx ends. The agent uses it to hand freed heap
// back to the system (debug.FreeOSMemory): it spends most of its life
// waiting, and its resident size is what users see.
func (i *Idle) TrimWhenQuiet(ctx context.Context, quiet time.Duration, trim func()) {
	var trimmed time.Time // the burst end already trimmed for
	for {
		active, last := i.snapshot()
		wait := quiet
		if active == 0 && !last.Equal(trimmed) {
			if left := time.Until(last.Add(quiet)); left > 0 {
				wait = left
			} else {
				trim()
				trimmed = last
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
