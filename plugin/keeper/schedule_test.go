package keeper

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// callEvery calls Get every period for total and returns the calls that had
// to wait (took any fake time): those waited for upstream.
func callEvery(t *testing.T, k *Keeper, period, total time.Duration) (waited []time.Duration) {
	t.Helper()
	end := time.Now().Add(total)
	for i := 0; time.Now().Before(end); i++ {
		t0 := time.Now()
		mustGet(t, k, GetOptions{})
		if d := time.Since(t0); d > 0 {
			waited = append(waited, t0.Sub(end.Add(-total)))
		}
		time.Sleep(time.Until(t0.Add(period)))
	}
	return waited
}

// Rule 5 over a simulated day of constant use: one login, a refresh about
// every two thirds of the access lifetime, a new login only when the
// refresh credential's lifetime ends, and no caller ever waiting for
// upstream after the first.
func TestProactiveRefreshOverADay(t *testing.T) {
	const ttl, refreshTTL = time.Hour, 24 * time.Hour
	maxRefreshes := int(math.Ceil(float64(24*time.Hour)/(2.0/3*float64(ttl)))) + 1 // 37
	for _, r := range []float64{0, 0.5, 0.999} {
		t.Run(fmt.Sprintf("rand=%v", r), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				k := newTestKeeper(t, f, Options{Rand: func() float64 { return r }})
				start := time.Now()
				waited := callEvery(t, k, time.Minute, 25*time.Hour)
				f.mu.Lock()
				defer f.mu.Unlock()
				dayRefreshes := 0
				for _, at := range f.refreshAt {
					if at.Sub(start) < 24*time.Hour {
						dayRefreshes++
					}
				}
				t.Logf("24h: logins in first day=1? %v, refreshes in first day=%d (bound %d), logins over 25h=%d at %v, waits=%v",
					f.loginAt[0].Equal(start.Add(f.latency)), dayRefreshes, maxRefreshes, f.logins, offsets(start, f.loginAt), waited)
				if dayRefreshes > maxRefreshes || dayRefreshes < 30 {
					t.Errorf("refreshes in 24h = %d, want 30..%d", dayRefreshes, maxRefreshes)
				}
				if f.logins != 2 || f.loginAt[1].Sub(f.loginAt[0]) < refreshTTL {
					t.Errorf("logins at %v; want one at start and one after the refresh lifetime", offsets(start, f.loginAt))
				}
				if len(waited) != 1 || waited[0] != 0 {
					t.Errorf("Gets that waited for upstream at %v; want only the first", waited)
				}
				// The refresh credential keeps its expiry across
				// (non-rotating) refreshes: none is wasted on a dead one.
				if s := statusOf(t, k, "p"); s.Counts.RefreshFailures != 0 || s.Counts.LoginFailures != 0 {
					t.Errorf("failed upstream calls: %+v", s.Counts)
				}
				if f.maxInfl != 1 {
					t.Errorf("max concurrent upstream calls = %d", f.maxInfl)
				}
			})
		})
	}
}

func offsets(start time.Time, ts []time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, at := range ts {
		out[i] = at.Sub(start)
	}
	return out
}

// Rule 5: proactive refresh only while in use.
func TestProactiveRefreshStopsWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		callEvery(t, k, time.Minute, 2*time.Hour)
		_, busy, _, _ := f.snapshot()
		time.Sleep(10 * time.Hour)
		logins, idle, _, _ := f.snapshot()
		// At most the refresh already due when the callers stopped.
		if busy < 2 || idle > busy+1 || logins != 1 {
			t.Errorf("refreshes: %d while busy, %d after 10h idle, logins %d", busy, idle, logins)
		}
		if s := statusOf(t, k, "p"); s.State != StateExpired {
			t.Errorf("state after idling = %s, want expired", s.State)
		}
		t0 := time.Now()
		mustGet(t, k, GetOptions{})
		if l, r, _, _ := f.snapshot(); l != 1 || r != idle+1 || time.Since(t0) == 0 {
			t.Errorf("Get after idling: logins %d refreshes %d (want %d), waited %v", l, r, idle+1, time.Since(t0))
		}
	})
}

// Rule 5: refresh_before moves the refresh point; too long a value falls
// back to the default, too short a one is clamped so callers never wait.
func TestRefreshBefore(t *testing.T) {
	tests := []struct {
		before time.Duration
		want   time.Duration // first refresh after the login's receipt
	}{
		{10 * time.Minute, 50 * time.Minute},
		{2 * time.Hour, 40 * time.Minute},
		{5 * time.Second, time.Hour - 30*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.before.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }},
					func(s *ProfileSpec) { s.RefreshBefore = tt.before })
				waited := callEvery(t, k, time.Minute, 70*time.Minute)
				f.mu.Lock()
				defer f.mu.Unlock()
				if len(f.refreshAt) == 0 {
					t.Fatal("no refresh")
				}
				// The fake stamps after its latency; so does the keeper.
				if got := f.refreshAt[0].Sub(f.loginAt[0]) - f.latency; got != tt.want {
					t.Errorf("first refresh %v after login, want %v", got, tt.want)
				}
				if len(waited) != 1 {
					t.Errorf("Gets waited at %v", waited)
				}
			})
		})
	}
}

// A background refresh that fails for good (here: forbidden) is not
// repeated on every Get; the cached token serves until callers need more.
func TestBackgroundFailureNotRepeatedPerGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		mustGet(t, k, GetOptions{})
		f.set(func(f *fake) {
			f.refreshErrs = []error{&provider.Error{Op: "refresh access token", Status: 403, Kind: provider.ErrForbidden}}
		})
		callEvery(t, k, time.Second, 50*time.Minute) // the refresh point is at 40 min
		if _, refreshes, _, _ := f.snapshot(); refreshes != 1 {
			t.Errorf("refreshes=%d after a forbidden background refresh, want 1", refreshes)
		}
		if s := statusOf(t, k, "p"); s.State != StateValid || s.LastError == "" {
			t.Errorf("status %+v", s)
		}
		// Past the margin a caller needs a new token: it goes upstream.
		time.Sleep(10 * time.Minute)
		mustGet(t, k, GetOptions{})
		if _, refreshes, _, _ := f.snapshot(); refreshes != 2 {
			t.Errorf("refreshes=%d, want the caller's own", refreshes)
		}
	})
}

// Rule 5: when the refresh timer fired while the profile was idle (and so
// did nothing), the first Get past the refresh point is served from the
// cache and starts one refresh in the background: none of a burst of
// callers waits for upstream, then or later.
func TestRefreshDueAfterIdleStartedByGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		first := mustGet(t, k, GetOptions{})
		time.Sleep(45 * time.Minute) // the refresh point (40 min) passes unused
		if _, refreshes, _, _ := f.snapshot(); refreshes != 0 {
			t.Fatalf("refreshes=%d while idle", refreshes)
		}
		t0 := time.Now()
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if tok := mustGet(t, k, GetOptions{}); tok.Fingerprint != first.Fingerprint || time.Since(t0) != 0 {
					t.Error("a Get of the burst waited for upstream")
				}
			})
		}
		wg.Wait()
		waited := callEvery(t, k, time.Second, 20*time.Minute) // past the old token's expiry
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(waited) != 0 {
			t.Errorf("Gets waited for upstream at %v", waited)
		}
		if f.refreshes != 1 || f.refreshAt[0] != t0.Add(f.latency) || f.maxInfl != 1 {
			t.Errorf("refreshes at %v (max %d concurrent), want one started by the burst", offsets(t0, f.refreshAt), f.maxInfl)
		}
	})
}

// The proactive refresh point is jittered, so that profiles logged in
// together do not refresh together: rand 0 and 0.999 give points 6% of
// two thirds of the lifetime apart.
func TestRefreshPointJitter(t *testing.T) {
	tests := []struct {
		rand float64
		want time.Duration // after the receipt of a 1-hour token
	}{
		{0, 38*time.Minute + 48*time.Second},
		{0.5, 40 * time.Minute},
		{0.999, 41*time.Minute + 12*time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.rand), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				k := newTestKeeper(t, f, Options{Rand: func() float64 { return tt.rand }})
				mustGet(t, k, GetOptions{})
				p := k.profiles["p"]
				p.mu.Lock()
				got := p.held.refreshAt.Sub(p.held.acquiredAt).Round(time.Second)
				p.mu.Unlock()
				if got != tt.want {
					t.Errorf("refresh point %v after receipt, want %v", got, tt.want)
				}
			})
		})
	}
}

// A Get kicks a background refresh only past the refresh point: after a
// forced refresh failed transiently its retry timer finds nothing due, and
// later Gets before the refresh point go upstream no more.
func TestNoKickBeforeRefreshPoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		first := mustGet(t, k, GetOptions{})
		f.set(func(f *fake) { f.refreshErrs = []error{unavailable()} })
		if tok := mustGet(t, k, GetOptions{ForceRefresh: true}); tok.Fingerprint != first.Fingerprint {
			t.Fatal("a failed forced refresh did not serve the cached token")
		}
		waited := callEvery(t, k, time.Second, 30*time.Minute)
		if _, refreshes, _, _ := f.snapshot(); refreshes != 1 || len(waited) != 0 {
			t.Errorf("refreshes=%d before the refresh point, want only the forced one; waits at %v", refreshes, waited)
		}
	})
}
