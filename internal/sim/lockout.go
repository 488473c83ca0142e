package sim

import (
	"sync"
	"time"
)

// Lockout defaults: vCenter SSO locks a user after 5 failed logins within
// 180 s, for 900 s.
const (
	DefaultLockoutFailures = 5
	DefaultLockoutWindow   = 180 * time.Second
	DefaultLockoutDuration = 900 * time.Second
)

// Lockout is the SSO account-lockout policy, per user name, driven by a
// Clock. Set the exported fields before first use. Safe for concurrent use.
type Lockout struct {
	// MaxFailures failed logins within Window lock the user for Duration.
	MaxFailures int
	Window      time.Duration
	Duration    time.Duration
	// Exempt users never lock (SSO exempts administrator@vsphere.local).
	Exempt map[string]bool

	clock Clock
	mu    sync.Mutex // guards users
	users map[string]*lockState
}

type lockState struct {
	failures    []time.Time // within the window, oldest first
	lockedUntil time.Time
}

// NewLockout returns the default policy (5 failures / 180 s → 900 s).
func NewLockout(c Clock) *Lockout {
	return &Lockout{
		MaxFailures: DefaultLockoutFailures,
		Window:      DefaultLockoutWindow,
		Duration:    DefaultLockoutDuration,
		clock:       c,
		users:       map[string]*lockState{},
	}
}

// Locked reports whether user is locked out now.
func (l *Lockout) Locked(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.users[user]
	return s != nil && l.clock.Now().Before(s.lockedUntil)
}

// LockedUntil returns when user's lock ends, or the zero time.
func (l *Lockout) LockedUntil(user string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.users[user]; s != nil && l.clock.Now().Before(s.lockedUntil) {
		return s.lockedUntil
	}
	return time.Time{}
}

// Fail records a failed login for user. Failures while locked do not
// extend the lock.
func (l *Lockout) Fail(user string) {
	if l.Exempt[user] {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	s := l.users[user]
	if s == nil {
		s = &lockState{}
		l.users[user] = s
	}
	if now.Before(s.lockedUntil) {
		return
	}
	kept := s.failures[:0]
	for _, t := range s.failures {
		if now.Sub(t) < l.Window {
			kept = append(kept, t)
		}
	}
	s.failures = append(kept, now)
	if len(s.failures) >= l.MaxFailures {
		s.lockedUntil = now.Add(l.Duration)
		s.failures = nil
	}
}

// Succeed records a successful login: the failure count starts over.
func (l *Lockout) Succeed(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.users[user]; s != nil {
		s.failures = nil
	}
}

// Reset forgets every failure and lock.
func (l *Lockout) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users = map[string]*lockState{}
}
