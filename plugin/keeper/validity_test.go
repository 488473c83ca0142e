package keeper

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// Issue 10 case 2: once a grant has shown that tokens live 5 minutes, a
// Get asking for 10 is refused without any upstream call, however often
// it is asked — and even when the cached token has run out.
func TestImpossibleMinValidityRefusedBeforeUpstream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.accessTTL = 5 * time.Minute
		k := newTestKeeper(t, f, Options{})
		mustGet(t, k, GetOptions{}) // learns the lifetime
		for i := range 5 {
			time.Sleep(time.Minute)
			_, err := k.Get(context.Background(), "p", GetOptions{MinValidity: 10 * time.Minute})
			if !errors.Is(err, ErrMinValidity) {
				t.Fatalf("Get %d: %v, want ErrMinValidity", i, err)
			}
		}
		logins, refreshes, _, _ := f.snapshot()
		if logins != 1 || refreshes != 0 {
			t.Errorf("logins=%d refreshes=%d after five impossible Gets, want 1 and 0", logins, refreshes)
		}
		// After a logout the lifetime is still known.
		if err := k.Revoke(context.Background(), "p"); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Get(context.Background(), "p", GetOptions{MinValidity: 10 * time.Minute}); !errors.Is(err, ErrMinValidity) {
			t.Fatalf("after logout: %v", err)
		}
		if logins, _, _, _ := f.snapshot(); logins != 1 {
			t.Errorf("logins=%d after logout and an impossible Get", logins)
		}
		// A possible request still works.
		if tok := mustGet(t, k, GetOptions{MinValidity: 4 * time.Minute}); time.Until(tok.ExpiresAt) < 4*time.Minute {
			t.Errorf("expires in %v", time.Until(tok.ExpiresAt))
		}
	})
}

// Issue 10 case 3: a session whose idle timeout nobody reported is taken
// to idle out after unknownIdleFloor: a hand-out promises no more than
// that, and after that much quiet (less the slack) it is probed first.
func TestUnknownIdleTimeoutProbedAfterFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newSessionFake()
		f.idle, f.idleUnsaid = 0, true
		k := newTestKeeper(t, probingFake{f}, Options{}, func(s *ProfileSpec) { s.Provider = "vcd" })
		tok := mustGet(t, k, GetOptions{})
		if got := time.Until(tok.ExpiresAt); got != unknownIdleFloor {
			t.Errorf("first hand-out expires in %v, want the floor %v", got, unknownIdleFloor)
		}
		time.Sleep(20 * time.Second)
		mustGet(t, k, GetOptions{})
		if _, _, _, probes := f.snapshot(); probes != 0 {
			t.Fatalf("probed a session used 20s ago: %d", probes)
		}
		time.Sleep(45 * time.Second) // 15s past the floor less the 30s slack
		f.set(func(f *fake) { f.probeErrs = []error{sessionDead()} })
		fresh := mustGet(t, k, GetOptions{})
		logins, _, _, probes := f.snapshot()
		if probes != 1 || logins != 2 || fresh.Fingerprint == tok.Fingerprint {
			t.Errorf("after 45s of quiet: probes=%d logins=%d renewed=%v; want the dead session probed and replaced",
				probes, logins, fresh.Fingerprint != tok.Fingerprint)
		}
	})
}

// Issue 10 case 3: the keepalive follows the session's real idle timeout:
// a configured period longer than a third of it is shortened, so a
// session the server ends after 4s of quiet stays alive.
func TestKeepaliveFollowsReportedIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newSessionFake()
		f.idle = 4 * time.Second
		f.latencies = map[string]time.Duration{"probe": 10 * time.Millisecond}
		k := newTestKeeper(t, probingFake{f}, Options{}, func(s *ProfileSpec) { s.Keepalive = 10 * time.Minute })
		mustGet(t, k, GetOptions{})
		time.Sleep(30 * time.Second)
		_, _, _, probes := f.snapshot()
		// every 4s/3 = 1.33s: 22 probes in 30s
		if probes < 20 || probes > 23 {
			t.Errorf("probes in 30s = %d, want one every 1.33s", probes)
		}
		if s := statusOf(t, k, "p"); time.Until(s.AccessExpiresAt) < 2*time.Second {
			t.Errorf("session idles out in %v despite the keepalive", time.Until(s.AccessExpiresAt))
		}
	})
}

// Under an assumed idle timeout (nobody reported one) the configured
// keepalive period stands: it is not shortened to a third of the floor.
func TestKeepaliveKeptUnderAssumedIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newSessionFake()
		f.idle, f.idleUnsaid = 0, true
		f.latencies = map[string]time.Duration{"probe": 10 * time.Millisecond}
		k := newTestKeeper(t, probingFake{f}, Options{}, func(s *ProfileSpec) { s.Keepalive = 10 * time.Minute })
		mustGet(t, k, GetOptions{})
		time.Sleep(25 * time.Minute)
		if _, _, _, probes := f.snapshot(); probes != 2 {
			t.Errorf("probes in 25 min = %d, want one every 10 min", probes)
		}
	})
}

// Issue 10 case 1: a caller accepting a shorter-lived token joins a call
// that another, stricter caller keeps retrying, and is served the cached
// token marked Shorter at the first failed attempt.
func TestAllowShorterDoesNotWaitForRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.accessTTL = 20 * time.Second
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		first := mustGet(t, k, GetOptions{})
		f.set(func(f *fake) {
			for range 100 {
				f.refreshErrs = append(f.refreshErrs, unavailable())
			}
		})
		time.Sleep(12 * time.Second) // 8s left
		strictDone := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := k.Get(ctx, "p", GetOptions{MinValidity: 10 * time.Second})
			strictDone <- err
		}()
		time.Sleep(100 * time.Millisecond)
		t0 := time.Now()
		tok := mustGet(t, k, GetOptions{MinValidity: 10 * time.Second, AllowShorter: true})
		if !tok.Shorter || tok.Fingerprint != first.Fingerprint || time.Since(t0) > time.Second {
			t.Errorf("shorter=%v cached=%v after %v; want the cached token marked shorter within the first attempt",
				tok.Shorter, tok.Fingerprint == first.Fingerprint, time.Since(t0))
		}
		if err := <-strictDone; !errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("the strict caller: %v, want unavailable", err)
		}
	})
}
