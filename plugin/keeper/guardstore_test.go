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

// memStore is a GuardStore in memory, standing in for the file that
// processes share. err, when set, fails every operation.
type memStore struct {
	mu                   sync.Mutex
	m                    map[string]GuardState
	err                  error
	loads, saves, clears int
}

func newMemStore() *memStore { return &memStore{m: map[string]GuardState{}} }

func (s *memStore) Load(_ context.Context, key string, cred secret.Secret) (GuardState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.err != nil {
		return GuardState{}, false, s.err
	}
	st, ok := s.m[key]
	if !st.Credential.Equal(cred) {
		st.Credential = secret.Secret{}
	}
	return st, ok, nil
}

func (s *memStore) Save(_ context.Context, key string, st GuardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.err != nil {
		return s.err
	}
	s.m[key] = st
	return nil
}

func (s *memStore) Clear(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clears++
	if s.err != nil {
		return s.err
	}
	delete(s.m, key)
	return nil
}

func (s *memStore) get(key string) (GuardState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[key]
	return st, ok
}

// lockingStore adds the cross-process login lock: one holder at a time.
type lockingStore struct {
	*memStore
	sem chan struct{}
}

func (s lockingStore) LockLogin(ctx context.Context, _ string) (func(), error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Processes starting at the same moment: with the store's login lock the
// second reads the first one's rejection instead of trying too.
func TestSharedGuardLoginLock(t *testing.T) {
	for _, locking := range []bool{false, true} {
		t.Run(fmt.Sprintf("locking=%v", locking), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.password = "wrong"
				var store GuardStore = newMemStore()
				if locking {
					store = lockingStore{store.(*memStore), make(chan struct{}, 1)}
				}
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
				logins, _, _, _ := f.snapshot()
				if want := map[bool]int{false: 4, true: 1}[locking]; logins != want {
					t.Fatalf("4 keepers at once: %d logins, want %d", logins, want)
				}
			})
		})
	}
}

const testGuardKey = "vcf https://sddc.test p"

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
		store := newMemStore()
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
		st, ok := store.get(testGuardKey)
		if !ok || st.Rejections != 1 || !st.RetryAt.Equal(time.Now().Add(time.Minute)) ||
			!strings.Contains(st.LastError, "credentials rejected") {
			t.Fatalf("recorded %+v, %v", st, ok)
		}

		time.Sleep(time.Minute) // the step passed: one more try, then 2 min
		if guarded(t, f, store) || !guarded(t, f, store) {
			t.Fatal("after the 1 min step: want one try, then a refusal")
		}
		if st, _ := store.get(testGuardKey); st.Rejections != 2 || !st.RetryAt.Equal(time.Now().Add(2*time.Minute)) {
			t.Fatalf("the backoff did not double across keepers: %+v", st)
		}
		time.Sleep(time.Minute)
		if !guarded(t, f, store) {
			t.Fatal("1 min into the 2 min step: not refused")
		}

		f.set(func(f *fake) { f.password = "also-wrong" })
		if guarded(t, f, store) || !guarded(t, f, store) {
			t.Fatal("a changed secret: want one try, then a refusal")
		}
		if logins, _, _, _ := f.snapshot(); logins != 3 {
			t.Fatalf("logins=%d, want 3", logins)
		}

		f.set(func(f *fake) { f.password = "right" })
		k := newTestKeeper(t, f, Options{Guards: store})
		mustGet(t, k, GetOptions{})
		if _, ok := store.get(testGuardKey); ok {
			t.Fatal("a successful login left the record")
		}
	})
}

// A keeper with a clean store reads it once per login and writes nothing.
func TestSharedGuardQuietWhenHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		k := newTestKeeper(t, newFake(), Options{Guards: store})
		callEvery(t, k, time.Minute, 3*time.Hour)
		if store.loads != 1 || store.saves != 0 || store.clears != 0 {
			t.Fatalf("loads=%d saves=%d clears=%d, want 1/0/0", store.loads, store.saves, store.clears)
		}
	})
}

// A broken store (unreadable file, full disk) does not break logins: the
// keeper warns and guards in memory.
func TestSharedGuardStoreErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testutil.SyncBuffer
		f := newFake()
		f.password = "wrong"
		store := newMemStore()
		store.err = errors.New("disk on fire")
		k := newTestKeeper(t, f, Options{Guards: store, Logger: traceLogger(&logs, false)})
		if g, r := getAll(t, k, 10); r != 10-g || g == 10 {
			t.Fatalf("guarded=%d rejected=%d", g, r)
		}
		if g, _ := getAll(t, k, 10); g != 10 {
			t.Fatalf("the in-memory guard refused %d of 10", g)
		}
		if logins, _, _, _ := f.snapshot(); logins != 1 {
			t.Fatalf("logins=%d, want 1", logins)
		}
		f.set(func(f *fake) { f.password = "right" })
		mustGet(t, k, GetOptions{})
		out := logs.String()
		for _, want := range []string{"could not read the shared lockout guard", "could not record the rejected login",
			"could not clear the shared lockout guard", "disk on fire"} {
			if !strings.Contains(out, want) {
				t.Errorf("the log lacks %q", want)
			}
		}
	})
}

// The rejection count of another process carries over: a new keeper
// continues the doubling rather than restarting at 1 min.
func TestSharedGuardCarriesRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.password = "wrong"
		store := newMemStore()
		store.m[testGuardKey] = GuardState{Credential: credentialID("wrong"), Rejections: 4,
			RetryAt: time.Now().Add(-time.Second), LastError: "login: HTTP 401 (credentials rejected)"}
		if guarded(t, f, store) {
			t.Fatal("the step had passed, yet the keeper was refused")
		}
		if st, _ := store.get(testGuardKey); st.Rejections != 5 || !st.RetryAt.Equal(time.Now().Add(16*time.Minute)) {
			t.Fatalf("recorded %+v, want 5 rejections, retry in 16 min", st)
		}
	})
}
