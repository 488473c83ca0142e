// Package sim holds what the upstream simulators (internal/sim/vcf,
// internal/sim/vcd, internal/sim/vcenter) share: an injectable clock, the
// /_sim/ inspection and fault-injection endpoints, the SSO lockout policy,
// the lifetime of a session, self-signed TLS and the Run loop behind
// `tokenkeeper-sim`. A Backend is an http.Handler that
// speaks one upstream protocol; NewHandler wraps it for tests
// (httptest.NewServer(sim.NewHandler(b))) and Run serves it for people.
package sim

import (
	"net/http"
	"time"
)

// Clock tells simulated time. Token lifetimes, refresh expiry and lockout
// windows are all measured on it, so tests move time instead of sleeping.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Stats are a simulator's counters, served by GET /_sim/stats.
type Stats struct {
	// Logins counts successful logins (token pairs or sessions created).
	Logins int64 `json:"logins"`
	// LoginFailures counts rejected logins (bad credentials, locked).
	LoginFailures int64 `json:"loginFailures"`
	// Refreshes counts successful access-token refreshes or exchanges.
	Refreshes int64 `json:"refreshes"`
	// RefreshFailures counts rejected refreshes.
	RefreshFailures int64 `json:"refreshFailures"`
	// Revocations counts successful revocations / logouts.
	Revocations int64 `json:"revocations"`
	// APICalls counts requests to protected resources, whatever their status.
	APICalls int64 `json:"apiCalls"`
	// Unauthorized counts protected-resource requests answered 401.
	Unauthorized int64 `json:"unauthorized"`
	// ActiveSessions counts live refresh tokens (VCF) or sessions (VCD).
	ActiveSessions int64 `json:"activeSessions"`
}

// Backend is one simulated upstream.
type Backend interface {
	http.Handler
	// Stats returns the counters, ActiveSessions computed now.
	Stats() Stats
	// Reset forgets every token, session, lockout and counter.
	Reset()
	// Expire ends live credentials at once: what is "access", "refresh",
	// "sessions" or "all". An unknown what is an error.
	Expire(what string) error
}
