package keeper

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// Rule 8: only the named token is dropped; N invalidations then N Gets
// cause one refresh.
func TestInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{})
		ctx := context.Background()
		old := mustGet(t, k, GetOptions{})
		if dropped, err := k.Invalidate(ctx, "p", "sha256:0000000000000000", "401"); err != nil || dropped {
			t.Fatalf("unknown fingerprint: dropped=%v err=%v", dropped, err)
		}
		const n = 50
		var drops atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				dropped, err := k.Invalidate(ctx, "p", old.Fingerprint, "GET /v1/domains: 401")
				if err != nil {
					t.Errorf("Invalidate: %v", err)
				}
				if dropped {
					drops.Add(1)
				}
			})
		}
		wg.Wait()
		if drops.Load() != 1 {
			t.Errorf("%d invalidations reported dropped, want 1", drops.Load())
		}
		fps := make(chan string, n)
		for range n {
			wg.Go(func() { fps <- mustGet(t, k, GetOptions{}).Fingerprint })
		}
		wg.Wait()
		close(fps)
		for fp := range fps {
			if fp == old.Fingerprint {
				t.Fatal("an invalidated token was handed out")
			}
		}
		if logins, refreshes, _, _ := f.snapshot(); logins != 1 || refreshes != 1 {
			t.Errorf("logins=%d refreshes=%d, want 1/1", logins, refreshes)
		}
		// The old token again: a no-op now.
		if dropped, _ := k.Invalidate(ctx, "p", old.Fingerprint, "late 401"); dropped {
			t.Error("a stale fingerprint dropped the current token")
		}
		if s := statusOf(t, k, "p"); s.State != StateValid {
			t.Errorf("state %s after a stale invalidation", s.State)
		}
	})
}

// Rule 9: Revoke logs out with the current grant and forgets the state.
func TestRevoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{})
		ctx := context.Background()
		if err := k.Revoke(ctx, "p"); err != nil {
			t.Fatalf("Revoke of an empty profile: %v", err)
		}
		if _, _, revokes, _ := f.snapshot(); revokes != 0 {
			t.Fatal("an empty profile was revoked upstream")
		}
		tok := mustGet(t, k, GetOptions{})
		if err := k.Revoke(ctx, "p"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		f.mu.Lock()
		if f.revokes != 1 || !f.revoked[0].Access.Equal(tok.Access) || f.revoked[0].Refresh.IsZero() || len(f.refreshIDs) != 0 {
			t.Errorf("revokes=%d, live refresh ids=%d", f.revokes, len(f.refreshIDs))
		}
		f.mu.Unlock()
		s := statusOf(t, k, "p")
		if s.State != StateEmpty || s.Fingerprint != "" || s.Counts.Revocations != 1 || !s.AccessExpiresAt.IsZero() {
			t.Errorf("status after revoke %+v", s)
		}
		time.Sleep(2 * time.Hour) // no timer survives the revoke
		if logins, refreshes, _, _ := f.snapshot(); logins != 1 || refreshes != 0 {
			t.Errorf("upstream calls after revoke: logins=%d refreshes=%d", logins, refreshes)
		}
		if got := mustGet(t, k, GetOptions{}); got.Fingerprint == tok.Fingerprint {
			t.Error("revoked token handed out")
		}
	})
}

// Rule 9: Close revokes every profile, best effort, once; then Gets fail.
func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, c := newFake(), newFake(), newFake()
		b.revokeErrs = []error{&provider.Error{Op: "revoke refresh token", Status: 503, Kind: provider.ErrUnavailable}}
		k, err := New([]ProfileSpec{{Name: "a", Impl: a}, {Name: "b", Impl: b}, {Name: "c", Impl: c}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, n := range []string{"a", "b"} {
			if _, err := k.Get(ctx, n, GetOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		err = k.Close(ctx)
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("Close: %v, want b's revoke failure joined", err)
		}
		for name, f := range map[string]*fake{"a": a, "b": b, "c": c} {
			want := map[string]int{"a": 1, "b": 1, "c": 0}[name]
			if _, _, revokes, _ := f.snapshot(); revokes != want {
				t.Errorf("profile %s: %d revocations, want %d", name, revokes, want)
			}
		}
		if err2 := k.Close(ctx); err2 != err {
			t.Errorf("second Close: %v, want the first result", err2)
		}
		if _, _, revokes, _ := a.snapshot(); revokes != 1 {
			t.Error("second Close revoked again")
		}
		if _, err := k.Get(ctx, "a", GetOptions{}); !errors.Is(err, ErrClosed) {
			t.Errorf("Get after Close: %v, want ErrClosed", err)
		}
		time.Sleep(48 * time.Hour)
		if logins, refreshes, _, _ := a.snapshot(); logins != 1 || refreshes != 0 {
			t.Errorf("timers survived Close: logins=%d refreshes=%d", logins, refreshes)
		}
	})
}

// Rule 9: profiles are revoked concurrently, so that a plugin host's short
// grace period before SIGKILL (1.5 s in plugin mode) covers them all.
func TestCloseRevokesProfilesConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 4
		var specs []ProfileSpec
		fakes := map[string]*fake{}
		for i := range n {
			name := string(rune('a' + i))
			fakes[name] = newFake() // 500 ms per upstream call
			specs = append(specs, ProfileSpec{Name: name, Impl: fakes[name]})
		}
		k, err := New(specs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for name := range fakes {
			if _, err := k.Get(context.Background(), name, GetOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t0 := time.Now()
		if err := k.Close(ctx); err != nil {
			t.Fatalf("Close within 1s: %v", err)
		}
		for name, f := range fakes {
			f.mu.Lock()
			if f.revokes != 1 || len(f.refreshIDs) != 0 {
				t.Errorf("profile %s: revokes=%d live refresh ids=%d when Close returned", name, f.revokes, len(f.refreshIDs))
			}
			f.mu.Unlock()
		}
		if took := time.Since(t0); took != 500*time.Millisecond {
			t.Errorf("Close took %v, want one revocation's latency", took)
		}
	})
}

// Rule 9: a refresh in flight at Close does not hold up the revocation of
// the refresh credential it uses: Close cancels the call and revokes the
// held grant before it returns, within its deadline — also when the call
// cannot be stopped (deaf: its answer was already on the wire), and then
// the call logs in no more.
func TestCloseDuringRefresh(t *testing.T) {
	tests := []struct {
		name    string
		deaf    bool
		wantErr error
	}{
		{"cancelled", false, nil},
		{"deaf", true, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.deaf, f.latencies = tt.deaf, map[string]time.Duration{"refresh": 10 * time.Second}
				k := newTestKeeper(t, f, Options{})
				held := mustGet(t, k, GetOptions{})
				got := make(chan error, 1)
				go func() { _, err := k.Get(context.Background(), "p", GetOptions{ForceRefresh: true}); got <- err }()
				synctest.Wait() // the refresh is upstream
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if err := k.Close(ctx); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Fatalf("Close: %v, want %v", err, tt.wantErr)
				}
				f.mu.Lock()
				if f.revokes != 1 || !f.revoked[0].Access.Equal(held.Access) || f.revoked[0].Refresh.IsZero() || len(f.refreshIDs) != 0 {
					t.Errorf("revokes=%d live refresh ids=%d when Close returned; the held refresh credential leaked",
						f.revokes, len(f.refreshIDs))
				}
				f.mu.Unlock()
				if err := <-got; err == nil {
					t.Error("the Get cut off by Close got a token")
				}
				time.Sleep(time.Minute)
				if logins, _, revokes, _ := f.snapshot(); logins != 1 || revokes != 1 {
					t.Errorf("after Close: logins=%d revokes=%d, want 1/1", logins, revokes)
				}
			})
		})
	}
}

// Rule 9: Close cancels a login in flight instead of waiting for it: it
// returns at once, and nothing was issued upstream.
func TestCloseCancelsLogin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.latency = 10 * time.Second
		k := newTestKeeper(t, f, Options{})
		got := make(chan error, 1)
		go func() { _, err := k.Get(context.Background(), "p", GetOptions{}); got <- err }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t0 := time.Now()
		if err := k.Close(ctx); err != nil || time.Since(t0) != 0 {
			t.Fatalf("Close: %v after %v, want nil at once", err, time.Since(t0))
		}
		if err := <-got; !errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("the cut-off Get: %v", err)
		}
		time.Sleep(time.Minute)
		if logins, _, revokes, _ := f.snapshot(); logins != 0 || revokes != 0 {
			t.Errorf("logins=%d revokes=%d after a cancelled login", logins, revokes)
		}
	})
}

// Rule 9: a login whose answer arrives despite Close (it was already on
// the wire) is revoked before Close returns when ctx allows, and in the
// background otherwise — the waiting caller never gets a leaked grant.
func TestCloseRevokesWhatALoginInFlightObtained(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		wantErr error
	}{
		{"within the deadline", 5 * time.Second, nil},
		{"past the deadline", time.Second, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.deaf, f.latencies = true, map[string]time.Duration{"login": 2 * time.Second}
				k := newTestKeeper(t, f, Options{})
				go func() { _, _ = k.Get(context.Background(), "p", GetOptions{}) }()
				synctest.Wait()
				ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
				defer cancel()
				if err := k.Close(ctx); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Fatalf("Close: %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == nil {
					if _, _, revokes, _ := f.snapshot(); revokes != 1 {
						t.Errorf("revokes=%d when Close returned, want 1", revokes)
					}
				}
				time.Sleep(time.Minute)
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.logins != 1 || f.revokes != 1 || len(f.refreshIDs) != 0 {
					t.Errorf("logins=%d revokes=%d live refresh ids=%d; the grant leaked", f.logins, f.revokes, len(f.refreshIDs))
				}
			})
		})
	}
}

// A login that replaces a grant still alive upstream (no refresh
// credential: a session) revokes the old one, so sessions do not pile up.
func TestReloginRevokesReplacedSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.noRefresh = true
		k := newTestKeeper(t, f, Options{})
		old := mustGet(t, k, GetOptions{})
		mustGet(t, k, GetOptions{ForceRefresh: true})
		time.Sleep(time.Second)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.logins != 2 || f.revokes != 1 || !f.revoked[0].Access.Equal(old.Access) {
			t.Errorf("logins=%d revokes=%d; want the replaced session revoked", f.logins, f.revokes)
		}
	})
}
