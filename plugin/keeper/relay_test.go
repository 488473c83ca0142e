package keeper

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

var (
	_ Relay       = relayFake{}
	_ Invalidator = relayFake{}
)

// relayFake is an upstream keeper in the manner of the Vault engine: a
// fetch returns its current token (the fake's Login, without refresh
// credential), and an invalidation is recorded.
type relayFake struct {
	*fake
	needs       *[]time.Duration
	invalidated *[]string
}

func newRelayFake() relayFake {
	f := newFake()
	f.noRefresh = true
	return relayFake{fake: f, needs: new([]time.Duration), invalidated: new([]string)}
}

func (r relayFake) Fetch(ctx context.Context, need time.Duration) (provider.Grant, error) {
	r.set(func(f *fake) { *r.needs = append(*r.needs, need) })
	return r.Login(ctx)
}

func (r relayFake) Invalidate(_ context.Context, fingerprint, _ string) error {
	r.set(func(f *fake) { *r.invalidated = append(*r.invalidated, fingerprint) })
	return nil
}

// A Relay's first fetch asks for the caller's min validity: the margin
// of tokens whose lifetime is not known yet is left out.
func TestRelayFetchGetsTheNeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRelayFake()
		k := newTestKeeper(t, r, Options{})
		mustGet(t, k, GetOptions{MinValidity: 10 * time.Minute})
		if got := *r.needs; len(got) != 1 || got[0] != 10*time.Minute {
			t.Fatalf("Fetch asked %v, want [10m0s]", got)
		}
		if logins, _, _, _ := r.snapshot(); logins != 1 {
			t.Fatalf("%d fetches, want 1", logins)
		}
	})
}

// The upstream keeper guards the account: a rejection it reports does not
// arm this keeper's guard, so a secret fixed upstream is used at the next
// Get (a local guard would refuse it until its backoff passed).
func TestRelayRejectionLeavesTheLocalGuardAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRelayFake()
		r.set(func(f *fake) { f.password = "wrong" })
		k := newTestKeeper(t, r, Options{})
		for range 3 {
			_, err := k.Get(context.Background(), "p", GetOptions{})
			var ge *GuardError
			if !errors.Is(err, provider.ErrCredentialsRejected) || errors.As(err, &ge) {
				t.Fatalf("Get with a rejected secret upstream: %v, want the upstream's rejection", err)
			}
		}
		r.set(func(f *fake) { f.password = f.good })
		mustGet(t, k, GetOptions{})
		if logins, _, _, _ := r.snapshot(); logins != 4 {
			t.Fatalf("%d fetches, want 4: every Get asks the upstream keeper", logins)
		}
	})
}

// A transient failure of the upstream keeper is retried within the call.
func TestRelayUnavailableIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRelayFake()
		r.set(func(f *fake) {
			f.loginErrs = []error{&provider.Error{Op: "read", Status: 503, Kind: provider.ErrUnavailable}}
		})
		k := newTestKeeper(t, r, Options{})
		mustGet(t, k, GetOptions{})
		if logins, _, _, _ := r.snapshot(); logins != 2 {
			t.Fatalf("%d fetches, want 2 (one failed, one retried)", logins)
		}
	})
}

// Invalidate passes a dropped token on to an Invalidator, once: a stale
// or repeated fingerprint drops nothing and is not passed on.
func TestInvalidatePassedOnUpstream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRelayFake()
		k := newTestKeeper(t, r, Options{})
		tok := mustGet(t, k, GetOptions{})
		ctx := context.Background()
		for _, fp := range []string{"sha256:0000000000000000", tok.Fingerprint, tok.Fingerprint} {
			if _, err := k.Invalidate(ctx, "p", fp, "401"); err != nil {
				t.Fatal(err)
			}
		}
		if got := *r.invalidated; len(got) != 1 || got[0] != tok.Fingerprint {
			t.Fatalf("passed on %v, want only the current token's fingerprint once", got)
		}
		if next := mustGet(t, k, GetOptions{}); next.Fingerprint == tok.Fingerprint {
			t.Fatal("the invalidated token was handed out again")
		}
	})
}

// A Relay's token may be the upstream keeper's part-used one: its short
// life does not make a longer min validity impossible, the upstream
// decides.
func TestRelayShortTokenIsNoLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRelayFake()
		r.set(func(f *fake) { f.accessTTL = time.Minute })
		k := newTestKeeper(t, r, Options{})
		mustGet(t, k, GetOptions{})
		r.set(func(f *fake) { f.accessTTL = time.Hour })
		if tok := mustGet(t, k, GetOptions{MinValidity: 10 * time.Minute}); time.Until(tok.ExpiresAt) < 10*time.Minute {
			t.Fatalf("token expires in %s", time.Until(tok.ExpiresAt))
		}
	})
}

// engineRelay is an upstream keeper as the Vault engine is: every fetch
// returns its current token; an accepted invalidation of that token
// rotates it, after delay (the write to Vault takes time); refuse makes
// the invalidation fail (no update on invalidate/<name>).
type engineRelay struct {
	*fake
	mu      sync.Mutex
	gen     int
	delay   time.Duration
	refuse  bool
	fetches int
}

func (e *engineRelay) current() secret.Secret {
	return secret.New(fmt.Sprintf("engine-token-%d", e.gen))
}

func (e *engineRelay) Fetch(context.Context, time.Duration) (provider.Grant, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fetches++
	return provider.Grant{Access: e.current(), TokenType: "Bearer", HeaderName: provider.HeaderAuthorization,
		AccessLifetime: time.Hour}, nil
}

func (e *engineRelay) Invalidate(_ context.Context, fingerprint, _ string) error {
	time.Sleep(e.delay)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuse {
		return &provider.Error{Op: "write", Status: 403, Message: "permission denied", Kind: provider.ErrForbidden}
	}
	if fingerprint == e.current().Fingerprint() {
		e.gen++
	}
	return nil
}

// A Get arriving while an invalidation is being passed on waits for it
// (one upstream call at a time): it never gets the invalidated token
// back from the upstream.
func TestRelayGetDuringInvalidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := &engineRelay{fake: newFake(), delay: 10 * time.Millisecond}
		k := newTestKeeper(t, e, Options{})
		tok := mustGet(t, k, GetOptions{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := k.Invalidate(context.Background(), "p", tok.Fingerprint, "401"); err != nil {
				t.Error(err)
			}
		}()
		time.Sleep(time.Millisecond)
		if next := mustGet(t, k, GetOptions{}); next.Fingerprint == tok.Fingerprint {
			t.Fatal("the invalidated token was handed out again")
		}
		<-done
	})
}

// An invalidation the upstream refuses (403) is logged, and the next Get
// gets what the upstream hands out instead of failing (docs/fleet.md).
func TestRelayRefusedInvalidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := &engineRelay{fake: newFake(), refuse: true}
		k := newTestKeeper(t, e, Options{})
		tok := mustGet(t, k, GetOptions{})
		if _, err := k.Invalidate(context.Background(), "p", tok.Fingerprint, "401"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			mustGet(t, k, GetOptions{})
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.fetches != 2 {
			t.Fatalf("%d fetches, want 2 (the first, one after the invalidation)", e.fetches)
		}
	})
}

// marginRelay hands out tokens lasting just what was asked, plus 32 s
// (the engine's own margin, truncated), as an engine whose current token
// is part-used does.
type marginRelay struct {
	*fake
	mu    sync.Mutex
	asked []time.Duration
}

func (m *marginRelay) Fetch(_ context.Context, need time.Duration) (provider.Grant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = append(m.asked, need)
	return provider.Grant{Access: secret.New(fmt.Sprintf("relay-token-%d", len(m.asked))), TokenType: "Bearer",
		HeaderName: provider.HeaderAuthorization, AccessLifetime: need + 32*time.Second}, nil
}

// Whatever this keeper's safety margin, a Relay is asked for what the
// keeper then checks (min validity plus margin): a margin above the
// upstream's does not turn a served request into ErrMinValidity.
func TestRelayMarginAboveTheUpstreams(t *testing.T) {
	for _, margin := range []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute} {
		t.Run(margin.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := &marginRelay{fake: newFake()}
				k := newTestKeeper(t, m, Options{SafetyMargin: margin})
				tok := mustGet(t, k, GetOptions{MinValidity: 20 * time.Minute})
				if left := time.Until(tok.ExpiresAt); left < 20*time.Minute+min(margin, left/10) {
					t.Fatalf("token expires in %s", left)
				}
				if len(m.asked) > 2 {
					t.Fatalf("asked %v, want at most two fetches", m.asked)
				}
			})
		})
	}
}

// A proactive renewal asks a Relay for the default min validity, so
// that the token it brings serves default callers (rule 5).
func TestRelayRenewalAsksTheDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRelayFake()
		k := newTestKeeper(t, r, Options{DefaultMinValidity: 5 * time.Minute})
		mustGet(t, k, GetOptions{})
		time.Sleep(time.Minute)
		mustGet(t, k, GetOptions{}) // in use: the proactive renewal runs
		time.Sleep(50 * time.Minute)
		synctest.Wait()
		var got []time.Duration
		r.set(func(*fake) { got = append(got, *r.needs...) })
		if len(got) < 2 {
			t.Fatalf("fetches %v, want a proactive renewal", got)
		}
		for _, n := range got[1:] {
			if n < 5*time.Minute {
				t.Fatalf("fetches asked %v, want the default 5m0s and its margin for renewals", got)
			}
		}
	})
}

// A Relay's upstream refusals are this keeper's: the upstream guard's
// is a GuardError naming the profile and the upstream, its min-validity
// refusal ErrMinValidity.
func TestRelayUpstreamRefusals(t *testing.T) {
	retryAt := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		err  error
	}{
		{"guard", &provider.GuardRefusal{Upstream: "the Vault engine at https://vault.test", RetryAt: retryAt,
			Cause: errors.New("login not attempted")}},
		{"min validity", fmt.Errorf("vault read tokenkeeper/token/sddc: too long: %w", provider.ErrMinValidity)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRelayFake()
				r.set(func(f *fake) { f.loginErrs = []error{tt.err} })
				k := newTestKeeper(t, r, Options{})
				_, err := k.Get(context.Background(), "p", GetOptions{})
				var ge *GuardError
				switch tt.name {
				case "guard":
					if !errors.As(err, &ge) || ge.Profile != "p" || ge.Upstream == "" || !ge.RetryAt.Equal(retryAt) {
						t.Fatalf("Get: %v (%+v), want a GuardError of profile p naming the upstream", err, ge)
					}
				default:
					if !errors.Is(err, ErrMinValidity) || errors.As(err, &ge) {
						t.Fatalf("Get: %v, want ErrMinValidity", err)
					}
				}
			})
		})
	}
}
