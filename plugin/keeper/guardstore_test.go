package keeper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// countingStore is the in-memory GuardStore shared by several keepers
// (standing in for the file processes share), counting its operations;
// err, when set, fails every one.
type countingStore struct {
	*memGuards
	mu      sync.Mutex
	err     error
	updates int
}

func newCountingStore() *countingStore { return &countingStore{memGuards: newMemGuards()} }

func (s *countingStore) LockLogin(ctx context.Context, a provider.Account) (func(), error) {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.memGuards.LockLogin(ctx, a)
}

func (s *countingStore) Update(ctx context.Context, a provider.Account, cred secret.Secret, f func(GuardRecord) GuardRecord) error {
	s.mu.Lock()
	s.updates++
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.memGuards.Update(ctx, a, cred, f)
}

// record returns the record of the fakes' default account.
func (s *countingStore) record() (GuardRecord, bool) {
	s.memGuards.mu.Lock()
	defer s.memGuards.mu.Unlock()
	r, ok := s.memGuards.recs[memID(newFake().Account())]
	return r, ok
}

// Processes starting at the same moment take turns through the store's
// login lock: the second reads the first one's rejection instead of
// trying too.
func TestSharedGuardLoginLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.password = "wrong"
		store := newCountingStore()
		var wg sync.WaitGroup
		for range 4 {
			k := newTestKeeper(t, f, Options{Guards: store})
			wg.Go(func() {
				if _, err := k.Get(context.Background(), "p", GetOptions{}); !errors.Is(err, provider.ErrCredentialsRejected) {
					t.Errorf("Get: %v", err)
				}
			})
		}
		wg.Wait()
		if logins, _, _, _ := f.snapshot(); logins != 1 {
			t.Fatalf("4 keepers at once: %d logins, want 1", logins)
		}
	})
}

// guarded runs one Get on a fresh keeper (a new process) over the shared
// upstream f and store, and reports whether the guard refused it.
func guarded(t *testing.T, f *fake, store GuardStore) bool {
	t.Helper()
	k := newTestKeeper(t, f, Options{Guards: store})
	_, err := k.Get(context.Background(), "p", GetOptions{})
	if !errors.Is(err, provider.ErrCredentialsRejected) {
		t.Fatalf("Get: %v, want a rejection", err)
	}
	var ge *GuardError
	if errors.As(err, &ge) {
		if s := statusOf(t, k, "p"); s.State != StateRejected || !s.RetryAt.Equal(ge.RetryAt) {
			t.Errorf("a keeper refused by the shared guard reports %+v", s)
		}
		return true
	}
	return false
}

// Rule 6 across processes: every new keeper (a `get --no-agent`, a plugin
// launch, a new agent) reads the guard that an earlier one recorded, so a
// wrong password reaches upstream once per backoff step in all.
func TestSharedGuardAcrossKeepers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.password = "wrong"
		store := newCountingStore()
		if guarded(t, f, store) {
			t.Fatal("the first keeper was refused")
		}
		for i := range 20 {
			if !guarded(t, f, store) {
				t.Fatalf("keeper %d was not refused", i+2)
			}
		}
		if logins, _, _, _ := f.snapshot(); logins != 1 {
			t.Fatalf("21 keepers: %d logins, want 1", logins)
		}
		r, ok := store.record()
		if !ok || r.Failures != 1 || !r.Rejected || r.Outcome != "rejected: HTTP 401" {
			t.Fatalf("recorded %+v, %v", r, ok)
		}

		time.Sleep(time.Minute) // the step passed: one more try, then 2 min
		if guarded(t, f, store) || !guarded(t, f, store) {
			t.Fatal("after the 1 min step: want one try, then a refusal")
		}
		if r, _ := store.record(); r.Failures != 2 || !r.RetryAt.Equal(time.Now().Add(2*time.Minute)) {
			t.Fatalf("the backoff did not double across keepers: %+v", r)
		}
		// A changed secret would be tried at once, but two failures
		// within the ceiling's window refuse it, whatever the secret.
		f.set(func(f *fake) { f.password = "also-wrong" })
		if !guarded(t, f, store) {
			t.Fatal("a third attempt within the ceiling window was made")
		}
		time.Sleep(CeilingWindow)
		if guarded(t, f, store) || !guarded(t, f, store) {
			t.Fatal("a changed secret after the window: want one try, then a refusal")
		}
		if logins, _, _, _ := f.snapshot(); logins != 3 {
			t.Fatalf("logins=%d, want 3", logins)
		}

		f.set(func(f *fake) { f.password = "right" })
		time.Sleep(CeilingWindow)
		k := newTestKeeper(t, f, Options{Guards: store})
		mustGet(t, k, GetOptions{})
		if r, _ := store.record(); r.Failures != 0 || !r.Pending.IsZero() {
			t.Fatalf("a successful login left the backoff: %+v", r)
		}
	})
}

// A healthy keeper touches the store only around its one login: before
// (the attempt is recorded before it is sent) and after (it succeeded).
func TestSharedGuardQuietWhenHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCountingStore()
		k := newTestKeeper(t, newFake(), Options{Guards: store})
		callEvery(t, k, time.Minute, 3*time.Hour)
		if store.updates != 2 {
			t.Fatalf("updates=%d, want 2", store.updates)
		}
		if _, ok := store.record(); ok {
			t.Fatal("a successful login left a record")
		}
	})
}

// Fail closed: a store that cannot be read, locked or written (a full
// disk, a directory where the file should be) means no login at all, and
// an error that says so, loudly.
func TestSharedGuardStoreErrorsFailClosed(t *testing.T) {
	for _, where := range []string{"lock", "update"} {
		t.Run(where, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs testutil.SyncBuffer
				f := newFake()
				store := newCountingStore()
				store.err = errors.New("/run/x/guard.json: disk on fire; fix it")
				var gs GuardStore = store
				if where == "update" {
					gs = updateFails{store}
				}
				k := newTestKeeper(t, f, Options{Guards: gs, Logger: traceLogger(&logs, false)})
				for range 3 {
					_, err := k.Get(context.Background(), "p", GetOptions{})
					if !errors.Is(err, ErrGuardStore) || !strings.Contains(err.Error(), "disk on fire; fix it") {
						t.Fatalf("Get: %v, want ErrGuardStore naming the store's error", err)
					}
				}
				if logins, _, _, _ := f.snapshot(); logins != 0 {
					t.Fatalf("logins=%d with a broken guard, want 0", logins)
				}
				if out := logs.String(); !strings.Contains(out, "[ERROR]") || !strings.Contains(out, "lockout guard cannot be used") {
					t.Errorf("no error logged:\n%s", out)
				}
			})
		})
	}
}

// updateFails has a working login lock and a failing Update.
type updateFails struct{ *countingStore }

func (s updateFails) LockLogin(ctx context.Context, a provider.Account) (func(), error) {
	return s.memGuards.LockLogin(ctx, a)
}

// The failure count of another process carries over: a new keeper
// continues the doubling rather than restarting at 1 min.
func TestSharedGuardCarriesFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.password = "wrong"
		store := newCountingStore()
		_ = store.Update(context.Background(), f.Account(), credentialID("wrong"), func(GuardRecord) GuardRecord {
			return GuardRecord{Credential: credentialID("wrong"), Failures: 4, Rejected: true,
				RetryAt: time.Now().Add(-time.Second), Outcome: "rejected: HTTP 401"}
		})
		if guarded(t, f, store) {
			t.Fatal("the step had passed, yet the keeper was refused")
		}
		if r, _ := store.record(); r.Failures != 5 || !r.RetryAt.Equal(time.Now().Add(16*time.Minute)) {
			t.Fatalf("recorded %+v, want 5 failures, retry in 16 min", r)
		}
	})
}

// A login recorded as pending by a process that died with the request
// on the wire counts against the ceiling.
func TestPendingOfADeadProcessCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.password = "wrong"
		store := newCountingStore()
		_ = store.Update(context.Background(), f.Account(), secret.Secret{}, func(GuardRecord) GuardRecord {
			return GuardRecord{Pending: time.Now().Add(-time.Second)}
		})
		if guarded(t, f, store) {
			t.Fatal("the first login was refused")
		}
		f.set(func(f *fake) { f.password = "other" })
		if !guarded(t, f, store) {
			t.Fatal("a third attempt (the dead one, a rejection, now) within the window was made")
		}
		if r, _ := store.record(); len(r.Attempts) != 2 {
			t.Fatalf("attempts %v, want the dead one and the rejection", r.Attempts)
		}
	})
}

// One budget per account: profiles that log in as one account share it,
// and no outcome of one account touches another's record.
func TestOneBudgetPerAccount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newFake(), newFake()
		a.password = "wrong"
		b.principal = "bob"
		var specs []ProfileSpec
		for i := range 6 {
			specs = append(specs, ProfileSpec{Name: fmt.Sprintf("a%d", i), Impl: a})
		}
		specs = append(specs, ProfileSpec{Name: "b", Impl: b})
		k, err := New(specs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close(context.Background())
		for round := range 3 {
			for i := range 6 {
				if _, err := k.Get(context.Background(), fmt.Sprintf("a%d", i), GetOptions{}); !errors.Is(err, provider.ErrCredentialsRejected) {
					t.Fatalf("Get a%d: %v", i, err)
				}
			}
			if _, err := k.Get(context.Background(), "b", GetOptions{ForceRefresh: round > 0}); err != nil {
				t.Fatalf("Get b: %v", err)
			}
		}
		if logins, _, _, _ := a.snapshot(); logins != 1 {
			t.Fatalf("six profiles of one account, three rounds: %d logins, want 1", logins)
		}
		if logins, _, _, _ := b.snapshot(); logins != 1 {
			t.Fatalf("the other account: %d logins, want 1", logins)
		}
	})
}

// A login whose outcome is unknown (the request was sent, then a reset, a
// timeout, a 5xx) counts as one guard step: it is not retried within the
// call, and the next call waits for the step. A login that provably never
// left is retried freely.
func TestUnknownOutcomeCounts(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantTries int
	}{
		{"reset after sending", &provider.Error{Op: "login", Message: "connection reset", Kind: provider.ErrUnavailable, Err: errors.New("read: reset")}, 1},
		{"502", &provider.Error{Op: "login", Status: 502, Kind: provider.ErrUnavailable}, 1},
		{"unparseable answer", &provider.Error{Op: "login", Status: 200, Kind: provider.ErrProtocol}, 1},
		{"connection refused", provider.NotSent(&provider.Error{Op: "login", Message: "connection refused", Kind: provider.ErrUnavailable}), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.loginErrs = []error{tt.err, tt.err, tt.err}
				k := newTestKeeper(t, f, Options{CallTimeout: 20 * time.Second})
				_, err := k.Get(context.Background(), "p", GetOptions{})
				if tt.wantTries == 4 {
					if err != nil {
						t.Fatalf("Get: %v, want the 4th try to succeed", err)
					}
				} else if err == nil || errors.As(err, new(*GuardError)) {
					t.Fatalf("Get: %v, want the login's own error", err)
				}
				if logins, _, _, _ := f.snapshot(); logins != tt.wantTries {
					t.Fatalf("%d login attempts, want %d", logins, tt.wantTries)
				}
				if tt.wantTries == 4 {
					return
				}
				var ge *GuardError
				if _, err := k.Get(context.Background(), "p", GetOptions{}); !errors.As(err, &ge) ||
					!ge.RetryAt.Equal(time.Now().Add(time.Minute)) {
					t.Fatalf("next Get: %v, want a GuardError for 1 min", err)
				}
				time.Sleep(time.Minute)
				if _, err := k.Get(context.Background(), "p", GetOptions{}); err == nil || errors.As(err, &ge) {
					t.Fatalf("after the step: %v, want one more attempt", err)
				}
				if logins, _, _, _ := f.snapshot(); logins != 2 {
					t.Fatalf("%d attempts, want 2", logins)
				}
			})
		})
	}
}

// The hard ceiling: a person trying one new password after another
// through tokenkeeper makes at most 2 failed logins per window.
func TestCeilingWhateverTheSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{})
		start := time.Now()
		sawCeiling := false
		for i := range 40 {
			f.set(func(f *fake) { f.password = fmt.Sprintf("guess-%d", i) })
			_, err := k.Get(context.Background(), "p", GetOptions{})
			var ge *GuardError
			if errors.As(err, &ge) && ge.Ceiling && (strings.Contains(err.Error(), "guard reset") ||
				!strings.Contains(err.Error(), "the next attempt is allowed after "+retryAtText(ge.RetryAt))) {
				t.Fatalf("the ceiling's message suggests a reset (it keeps the attempts) or lacks when next: %v", err)
			}
			sawCeiling = sawCeiling || ge != nil && ge.Ceiling
			time.Sleep(15 * time.Second)
		}
		f.mu.Lock()
		at := append([]time.Time(nil), f.loginAt...)
		f.mu.Unlock()
		for i := range at {
			n := 0
			for _, u := range at[i:] {
				if u.Sub(at[i]) < 180*time.Second {
					n++
				}
			}
			if n > 2 {
				t.Fatalf("%d failed logins within 180 s from %v", n, at[i].Sub(start))
			}
		}
		if len(at) < 4 {
			t.Fatalf("only %d logins in 10 min: the ceiling is too strict", len(at))
		}
		if !sawCeiling {
			t.Fatal("the ceiling never refused: its message went unchecked")
		}
	})
}

// Retry-After on a 503 or 429 login stretches the guard step.
func TestRetryAfterHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.loginErrs = []error{&provider.Error{Op: "login", Status: 503, Kind: provider.ErrUnavailable, RetryAfter: 10 * time.Minute}}
		k := newTestKeeper(t, f, Options{})
		if _, err := k.Get(context.Background(), "p", GetOptions{}); err == nil {
			t.Fatal("Get succeeded")
		}
		var ge *GuardError
		if _, err := k.Get(context.Background(), "p", GetOptions{}); !errors.As(err, &ge) ||
			!ge.RetryAt.Equal(time.Now().Add(10*time.Minute)) {
			t.Fatalf("next Get: %v, want a GuardError until Retry-After", err)
		}
	})
}

// failedLogins runs profiles a0…an of one account, each with its own
// wrong password, one Get per profile every 10 s for an hour, and
// returns the failed logins the upstream saw.
func failedLogins(t *testing.T, passwords ...string) int {
	var fakes []*fake
	var specs []ProfileSpec
	for i, pw := range passwords {
		f := newFake()
		f.password = pw
		fakes = append(fakes, f)
		specs = append(specs, ProfileSpec{Name: fmt.Sprintf("a%d", i), Impl: f})
	}
	k, err := New(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close(context.Background())
	for range 360 {
		for i := range specs {
			if _, err := k.Get(context.Background(), fmt.Sprintf("a%d", i), GetOptions{}); err == nil {
				t.Fatal("Get succeeded with a wrong password")
			}
		}
		time.Sleep(10 * time.Second)
	}
	n := 0
	for _, f := range fakes {
		logins, _, _, _ := f.snapshot()
		n += logins
	}
	return n
}

// Two profiles of one account with two different stale passwords,
// alternating, double the backoff like one: every credential that failed
// since the last success waits for the step, not only the last one.
func TestAlternatingWrongSecretsShareTheBackoff(t *testing.T) {
	var one, two int
	synctest.Test(t, func(t *testing.T) { one = failedLogins(t, "wrong") })
	synctest.Test(t, func(t *testing.T) { two = failedLogins(t, "wrong-1", "wrong-2") })
	t.Logf("failed logins in 1 h: one wrong secret %d, two alternating %d", one, two)
	if two > one {
		t.Fatalf("two alternating wrong secrets: %d failed logins in 1 h, one: %d", two, one)
	}
}

// Retry-After is the server's word about the account: no login with any
// secret before it ends.
func TestRetryAfterHoldsEverySecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.loginErrs = []error{&provider.Error{Op: "login", Status: 503, Kind: provider.ErrUnavailable, RetryAfter: 10 * time.Minute}}
		k := newTestKeeper(t, f, Options{})
		if _, err := k.Get(context.Background(), "p", GetOptions{}); err == nil {
			t.Fatal("Get succeeded")
		}
		time.Sleep(time.Second)
		f.set(func(f *fake) { f.password = "another" })
		var ge *GuardError
		if _, err := k.Get(context.Background(), "p", GetOptions{}); !errors.As(err, &ge) ||
			!ge.RetryAt.Equal(time.Now().Add(10*time.Minute-time.Second)) {
			t.Fatalf("another secret 1 s after Retry-After: 10m: %v, want a GuardError until it ends", err)
		}
		if logins, _, _, _ := f.snapshot(); logins != 1 {
			t.Fatalf("%d logins, want 1", logins)
		}
	})
}
