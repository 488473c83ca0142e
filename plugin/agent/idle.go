package agent

import (
	"context"
	"sync"
	"time"
)

// Idle tracks activity: the agent is idle once no call has been in flight
// for the timeout and no hold (see Hold) reaches beyond now. Time is read
// from the runtime clock, so tests drive it with testing/synctest.
type Idle struct {
	timeout time.Duration
	unused  time.Duration    // see Unused; zero: none
	hold    func() time.Time // nil: no hold

	mu     sync.Mutex // guards active, last and served
	active int        // calls in flight
	last   time.Time  // when the last call ended (or Idle was made)
	served bool       // a token was handed out
}

// NewIdle starts tracking; the agent counts as used at creation.
func NewIdle(timeout time.Duration) *Idle {
	return &Idle{timeout: timeout, last: time.Now()}
}

// Hold makes Wait return no sooner than the time until reports, asked
// anew each time the idle timeout has passed (a zero time holds nothing).
// The agent holds for the sessions the keeper promised callers to keep
// alive: exiting revokes them. Call it before Wait.
func (i *Idle) Hold(until func() time.Time) { i.hold = until }

// Unused sets a shorter idle timeout that holds until the first Served:
// an agent nobody got a token from (a wrong port, a bad CA, a typo in a
// password) should not linger for the whole idle timeout. It applies even
// when the idle timeout is zero (never). Call it before Wait.
func (i *Idle) Unused(d time.Duration) { i.unused = d }

// Served records that a token was handed out: from now on only the idle
// timeout applies.
func (i *Idle) Served() {
	i.mu.Lock()
	i.served = true
	i.mu.Unlock()
}

// timeoutLocked is the idle timeout in force; zero or less never expires.
func (i *Idle) timeoutLocked() time.Duration {
	if !i.served && i.unused > 0 && (i.timeout <= 0 || i.unused < i.timeout) {
		return i.unused
	}
	return i.timeout
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

// Wait returns nil once the agent has been idle for the timeout and the
// hold has passed, or ctx's error. A timeout of zero or less never expires.
func (i *Idle) Wait(ctx context.Context) error {
	for {
		wait, never := i.left()
		if never {
			<-ctx.Done()
			return ctx.Err()
		}
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

// left is how long until the agent may exit: the rest of the idle
// timeout, else the rest of the hold, else zero or less; never when the
// timeout in force never expires.
func (i *Idle) left() (wait time.Duration, never bool) {
	i.mu.Lock()
	timeout := i.timeoutLocked()
	wait = timeout // a call in flight: look again later
	if i.active == 0 {
		wait = time.Until(i.last.Add(timeout))
	}
	i.mu.Unlock()
	if timeout <= 0 {
		return 0, true
	}
	if wait > 0 || i.hold == nil {
		return wait, false
	}
	// Asked only now, so that a promise made by the last call counts;
	// looked at again after one timeout at most, so that one that ended
	// early (the session idled out, was revoked) stops holding.
	if until := i.hold(); !until.IsZero() {
		return min(time.Until(until), timeout), false
	}
	return 0, false
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
