package keeper

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// The safety margin is min(SafetyMargin, lifetime/10): a Get asking for
// exactly remaining − margin is served from the cache, one nanosecond more
// renews.
func TestMarginBoundary(t *testing.T) {
	tests := []struct {
		ttl        time.Duration
		opts       Options
		wantMargin time.Duration
	}{
		{time.Hour, Options{}, 30 * time.Second},
		{10 * time.Minute, Options{}, 30 * time.Second},
		{5 * time.Minute, Options{}, 30 * time.Second},
		{3 * time.Minute, Options{}, 18 * time.Second},
		{3 * time.Second, Options{}, 300 * time.Millisecond},
		{3 * time.Second, Options{SafetyMargin: 250 * time.Millisecond}, 250 * time.Millisecond},
		{3 * time.Second, Options{SafetyMargin: time.Second}, 300 * time.Millisecond},
		{time.Hour, Options{SafetyMargin: 2 * time.Minute}, 2 * time.Minute},
	}
	for _, tt := range tests {
		for _, over := range []time.Duration{0, 1} {
			t.Run(fmt.Sprintf("ttl=%v/margin=%v/over=%v", tt.ttl, tt.opts.SafetyMargin, over), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := newFake()
					f.accessTTL, f.latency = tt.ttl, time.Millisecond
					k := newTestKeeper(t, f, tt.opts)
					first := mustGet(t, k, GetOptions{})
					time.Sleep(tt.ttl / 3) // before the refresh point
					remaining := time.Until(first.ExpiresAt)
					tok := mustGet(t, k, GetOptions{MinValidity: remaining - tt.wantMargin + over})
					logins, refreshes, _, _ := f.snapshot()
					renewed := tok.Fingerprint != first.Fingerprint
					if logins != 1 || renewed != (over > 0) || refreshes != int(over) {
						t.Errorf("asking remaining − %v + %v: logins=%d refreshes=%d renewed=%v; want a renewal only past the margin",
							tt.wantMargin, over, logins, refreshes, renewed)
					}
				})
			})
		}
	}
}

// A 3 s token (a simulator with --access-ttl 3s) works with the default
// options: handed out with MinValidity 0, refreshed ahead of the margin in
// the background, one login and refreshes only, callers never waiting for
// upstream after the first, every hand-out valid for at least the margin.
func TestShortLivedTokenDefaultOptions(t *testing.T) {
	const ttl, margin = 3 * time.Second, 300 * time.Millisecond
	for _, r := range []float64{0, 0.5, 0.999} {
		t.Run(fmt.Sprintf("rand=%v", r), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.accessTTL = ttl // latency stays 500ms: a slow upstream
				k := newTestKeeper(t, f, Options{Rand: func() float64 { return r }})
				start := time.Now()
				var waited []time.Duration
				for i := 0; i < 400 && time.Since(start) < 20*time.Second; i++ {
					t0 := time.Now()
					tok := mustGet(t, k, GetOptions{})
					if d := time.Since(t0); d > 0 {
						waited = append(waited, t0.Sub(start))
					}
					if left := time.Until(tok.ExpiresAt); left < margin {
						t.Errorf("Get at %v handed out a token with %v left, want ≥ %v", t0.Sub(start), left, margin)
					}
					time.Sleep(50 * time.Millisecond)
				}
				s := statusOf(t, k, "p")
				// A cycle is 2/3 of 3 s plus the 500 ms call: 20 s hold 7 or 8.
				if s.Counts.Logins != 1 || s.Counts.Refreshes < 7 || s.Counts.Refreshes > 9 ||
					s.Counts.RefreshFailures != 0 || s.Counts.LoginFailures != 0 {
					t.Errorf("counts over 20s: %+v; want 1 login and 7..9 refreshes", s.Counts)
				}
				if len(waited) != 1 || waited[0] != 0 {
					t.Errorf("Gets that waited for upstream at %v; want only the first", waited)
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.maxInfl != 1 {
					t.Errorf("max concurrent upstream calls = %d", f.maxInfl)
				}
			})
		})
	}
}

// The margin no longer hides short tokens, but a min validity the token
// cannot meet (alone, or with the margin) is still refused after one login.
func TestShortLivedMinValidityBeyondLifetime(t *testing.T) {
	tests := []struct {
		min  time.Duration
		want error
	}{
		{2700 * time.Millisecond, nil}, // 3s − 300ms: exactly fits
		{2700*time.Millisecond + 1, ErrMinValidity},
		{3 * time.Second, ErrMinValidity},
		{4 * time.Second, ErrMinValidity},
	}
	for _, tt := range tests {
		t.Run(tt.min.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.accessTTL = 3 * time.Second
				k := newTestKeeper(t, f, Options{})
				_, err := k.Get(context.Background(), "p", GetOptions{MinValidity: tt.min})
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
				if logins, refreshes, _, _ := f.snapshot(); logins != 1 || refreshes != 0 {
					t.Errorf("logins=%d refreshes=%d, want one login and no loop", logins, refreshes)
				}
			})
		})
	}
}

// The refresh credential's expiry check scales with its own lifetime: a
// 10 s refresh credential is still used with 2 s left (margin 1 s), where
// the fixed 30 s margin would have forced a login.
func TestShortLivedRefreshCredential(t *testing.T) {
	tests := []struct {
		left       time.Duration // of the refresh credential when renewing
		wantLogins int
	}{
		{2 * time.Second, 1},
		{time.Second, 2}, // not more than the margin: log in
	}
	for _, tt := range tests {
		t.Run(tt.left.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.accessTTL, f.refreshTTL, f.latency = 3*time.Second, 10*time.Second, time.Millisecond
				k := newTestKeeper(t, f, Options{})
				first := mustGet(t, k, GetOptions{})
				time.Sleep(10*time.Second - tt.left)
				if tok := mustGet(t, k, GetOptions{}); tok.Fingerprint == first.Fingerprint {
					t.Fatal("the expired token was handed out")
				}
				logins, refreshes, _, _ := f.snapshot()
				if logins != tt.wantLogins || refreshes != 2-tt.wantLogins {
					t.Errorf("logins=%d refreshes=%d, want %d logins", logins, refreshes, tt.wantLogins)
				}
			})
		})
	}
}

// A session with both a short lifetime and an idle timeout: the idle slack
// is min(margin, idle/2) with the token's scaled margin (here 1 s of a 10 s
// token), so a session quiet for 2.5 s of its 4 s is served without a probe
// and one quiet for 3.5 s is probed.
func TestShortLivedIdleSlack(t *testing.T) {
	tests := []struct {
		quiet      time.Duration
		wantProbes int
	}{
		{2500 * time.Millisecond, 0},
		{3500 * time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.quiet.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.accessTTL, f.idle, f.latency = 10*time.Second, 4*time.Second, time.Millisecond
				k := newTestKeeper(t, probingFake{f}, Options{})
				first := mustGet(t, k, GetOptions{})
				time.Sleep(tt.quiet)
				tok := mustGet(t, k, GetOptions{})
				logins, refreshes, _, probes := f.snapshot()
				if logins != 1 || refreshes != 0 || probes != tt.wantProbes || tok.Fingerprint != first.Fingerprint {
					t.Errorf("logins=%d refreshes=%d probes=%d renewed=%v; want %d probes and the same session",
						logins, refreshes, probes, tok.Fingerprint != first.Fingerprint, tt.wantProbes)
				}
			})
		})
	}
}
