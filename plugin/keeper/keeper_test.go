package keeper

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

func TestNewRejectsBadSpecs(t *testing.T) {
	f := newFake()
	tests := []struct {
		name  string
		specs []ProfileSpec
	}{
		{"no name", []ProfileSpec{{Impl: f}}},
		{"no provider", []ProfileSpec{{Name: "a"}}},
		{"duplicate", []ProfileSpec{{Name: "a", Impl: f}, {Name: "a", Impl: f}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.specs, Options{}); err == nil {
				t.Fatal("New accepted bad specs")
			}
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	k, err := New([]ProfileSpec{{Name: "b", Impl: newFake()}, {Name: "a", Impl: newFake()}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := k.Get(ctx, "nope", GetOptions{}); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("Get: got %v, want ErrUnknownProfile", err)
	}
	if _, err := k.Invalidate(ctx, "nope", "sha256:00", ""); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("Invalidate: got %v, want ErrUnknownProfile", err)
	}
	if err := k.Revoke(ctx, "nope"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("Revoke: got %v, want ErrUnknownProfile", err)
	}
	st := k.Status()
	if len(st) != 2 || st[0].Profile != "a" || st[1].Profile != "b" || st[0].State != StateEmpty {
		t.Errorf("Status not sorted or not empty: %+v", st)
	}
}

// Rule 1 and 2: one state per profile, fields as reported by Status; the
// hand-out is built from the grant.
func TestGetFillsTokenAndStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{})
		t0 := time.Now()
		tok := mustGet(t, k, GetOptions{})
		receipt := t0.Add(f.latency)
		if tok.Profile != "p" || tok.Provider != "vcf" || tok.TokenType != "Bearer" ||
			tok.HeaderName != provider.HeaderAuthorization {
			t.Errorf("token metadata wrong: %+v", tok)
		}
		if got, want := tok.HeaderValue.Reveal(), "Bearer "+tok.Access.Reveal(); got != want {
			t.Error("header value is not Grant.HeaderValue()")
		}
		if tok.Fingerprint != tok.Access.Fingerprint() || tok.Fingerprint == "" {
			t.Errorf("fingerprint %q is not Access.Fingerprint()", tok.Fingerprint)
		}
		if !tok.ExpiresAt.Equal(receipt.Add(time.Hour)) {
			t.Errorf("ExpiresAt = %v, want receipt + 1h = %v", tok.ExpiresAt, receipt.Add(time.Hour))
		}
		s := statusOf(t, k, "p")
		want := Status{Profile: "p", Provider: "vcf", URL: "https://sddc.test", State: StateValid,
			AccessExpiresAt: receipt.Add(time.Hour), RefreshExpiresAt: receipt.Add(24 * time.Hour),
			Fingerprint: tok.Fingerprint, LastUsed: t0, Counts: Counts{Logins: 1}}
		if s != want {
			t.Errorf("status\n got %+v\nwant %+v", s, want)
		}
	})
}

// Rule 3: a cold profile, 1,000 concurrent callers, one login.
func TestColdProfileThousandCallersOneLogin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{})
		var wg sync.WaitGroup
		fps := make(chan string, 1000)
		for range 1000 {
			wg.Go(func() {
				tok, err := k.Get(context.Background(), "p", GetOptions{})
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				fps <- tok.Fingerprint
			})
		}
		wg.Wait()
		close(fps)
		seen := map[string]bool{}
		for fp := range fps {
			seen[fp] = true
		}
		logins, refreshes, _, _ := f.snapshot()
		if logins != 1 || refreshes != 0 || len(seen) != 1 || f.maxInfl != 1 {
			t.Errorf("logins=%d refreshes=%d distinct tokens=%d max concurrent upstream=%d; want 1/0/1/1",
				logins, refreshes, len(seen), f.maxInfl)
		}
	})
}

// Rule 3: the shared call is not cancelled by the caller that started it.
func TestCallerGivesUpSharedCallCompletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.latency = 2 * time.Second
		k := newTestKeeper(t, f, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := k.Get(ctx, "p", GetOptions{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get with a short deadline: %v, want DeadlineExceeded", err)
		}
		cctx, ccancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { _, err := k.Get(cctx, "p", GetOptions{}); done <- err }()
		synctest.Wait()
		ccancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Get: %v, want Canceled", err)
		}
		time.Sleep(3 * time.Second) // fake time: let the shared call finish
		if s := statusOf(t, k, "p"); s.State != StateValid || s.Counts.Logins != 1 {
			t.Fatalf("after the shared call: state %s, logins %d", s.State, s.Counts.Logins)
		}
		start := time.Now()
		mustGet(t, k, GetOptions{})
		if logins, _, _, _ := f.snapshot(); logins != 1 || time.Since(start) != 0 {
			t.Errorf("cached Get: logins=%d waited %v; want 1 and 0", logins, time.Since(start))
		}
	})
}

// Rule 2: min validity, force refresh, login when nothing can refresh.
func TestMinValidityAndForce(t *testing.T) {
	tests := []struct {
		name          string
		after         time.Duration // since the first token arrived
		opts          GetOptions
		noRefresh     bool
		wantLogins    int
		wantRefreshes int
	}{
		{"fresh enough", 10 * time.Minute, GetOptions{MinValidity: 49 * time.Minute}, false, 1, 0},
		{"margin counts", 10 * time.Minute, GetOptions{MinValidity: 49*time.Minute + 31*time.Second}, false, 1, 1},
		{"too short refreshes", 30 * time.Minute, GetOptions{MinValidity: 40 * time.Minute}, false, 1, 1},
		{"expired refreshes", 61 * time.Minute, GetOptions{}, false, 1, 1},
		{"force refreshes", time.Minute, GetOptions{ForceRefresh: true}, false, 1, 1},
		{"nothing to refresh with logs in", 30 * time.Minute, GetOptions{MinValidity: 40 * time.Minute}, true, 2, 0},
		{"refresh credential expired logs in", 25 * time.Hour, GetOptions{}, false, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.noRefresh = tt.noRefresh
				k := newTestKeeper(t, f, Options{})
				first := mustGet(t, k, GetOptions{})
				time.Sleep(tt.after)
				tok := mustGet(t, k, tt.opts)
				logins, refreshes, _, _ := f.snapshot()
				if logins != tt.wantLogins || refreshes != tt.wantRefreshes {
					t.Errorf("logins=%d refreshes=%d, want %d/%d", logins, refreshes, tt.wantLogins, tt.wantRefreshes)
				}
				renewed := tt.wantLogins+tt.wantRefreshes > 1
				if renewed == (tok.Fingerprint == first.Fingerprint) {
					t.Errorf("renewed=%v but token changed=%v", renewed, tok.Fingerprint != first.Fingerprint)
				}
			})
		})
	}
}

func TestMinValidityBeyondLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{})
		_, err := k.Get(context.Background(), "p", GetOptions{MinValidity: 2 * time.Hour})
		if !errors.Is(err, ErrMinValidity) {
			t.Fatalf("got %v, want ErrMinValidity", err)
		}
		if logins, refreshes, _, _ := f.snapshot(); logins != 1 || refreshes != 0 {
			t.Errorf("logins=%d refreshes=%d, want one login and no loop", logins, refreshes)
		}
	})
}

// Rule 4: expiry is receipt time plus the lifetime; the server clock is
// irrelevant.
func TestExpiryAnchoredToLocalReceipt(t *testing.T) {
	for _, skew := range []time.Duration{0, 2 * time.Hour, -2 * time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.skew, f.latency = skew, 5*time.Second
				k := newTestKeeper(t, f, Options{})
				t0 := time.Now()
				tok := mustGet(t, k, GetOptions{})
				want := t0.Add(5 * time.Second).Add(time.Hour)
				if !tok.ExpiresAt.Equal(want) || !statusOf(t, k, "p").AccessExpiresAt.Equal(want) {
					t.Fatalf("expiry %v, want receipt+1h %v", tok.ExpiresAt, want)
				}
				// Served from the cache until just before expiry − margin.
				time.Sleep(time.Until(want.Add(-31 * time.Second)))
				if got := mustGet(t, k, GetOptions{}); got.Fingerprint != tok.Fingerprint {
					t.Error("token renewed before expiry − margin")
				}
				if l, r, _, _ := f.snapshot(); l != 1 || r != 0 {
					t.Errorf("logins=%d refreshes=%d before expiry", l, r)
				}
			})
		})
	}
}

// BenchmarkGetWarm is the hot path: a cached token handed out.
func BenchmarkGetWarm(b *testing.B) {
	f := newFake()
	f.latency = 0
	k, err := New([]ProfileSpec{{Name: "p", Impl: f}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close(context.Background())
	ctx := context.Background()
	if _, err := k.Get(ctx, "p", GetOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Get(ctx, "p", GetOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A rotated refresh credential (a service-account token) replaces the old
// one with a new expiry; a non-rotated one keeps its expiry (see the day
// test).
func TestRotatedRefreshCredential(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.rotate = true
		k := newTestKeeper(t, f, Options{})
		mustGet(t, k, GetOptions{})
		time.Sleep(time.Hour)
		mustGet(t, k, GetOptions{ForceRefresh: true})
		time.Sleep(time.Hour)
		mustGet(t, k, GetOptions{ForceRefresh: true})
		s := statusOf(t, k, "p")
		if s.Counts != (Counts{Logins: 1, Refreshes: 2}) {
			t.Errorf("counts %+v, want 1 login and 2 refreshes with the rotated credentials", s.Counts)
		}
		if want := time.Now().Add(24 * time.Hour); !s.RefreshExpiresAt.Equal(want) {
			t.Errorf("refresh expires in %v, want 24h from the last rotation", time.Until(s.RefreshExpiresAt))
		}
	})
}
