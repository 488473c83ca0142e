package keeper

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// newSessionFake is a Cloud Director style upstream: a session token with
// no known lifetime that dies after 30 min without use, nothing to refresh
// with.
func newSessionFake() *fake {
	f := newFake()
	f.accessTTL, f.idle, f.noRefresh = 0, 30*time.Minute, true
	return f
}

func sessionDead() error {
	return &provider.Error{Op: "probe session", Status: 401, Kind: provider.ErrRefreshRejected}
}

func TestIdleTimeoutSession(t *testing.T) {
	tests := []struct {
		name       string
		prober     bool
		probeErrs  []error
		quiet      time.Duration // between the first and the second Get
		wantLogins int
		wantProbes int
		wantRevoke int
	}{
		{"recent hand-out serves", true, nil, 29 * time.Minute, 1, 0, 0},
		{"maybe idled: probe alive", true, nil, 29*time.Minute + 40*time.Second, 1, 1, 0},
		{"idled out: probe alive", true, nil, 31 * time.Minute, 1, 1, 0},
		{"maybe idled: probe dead", true, []error{sessionDead()}, 29*time.Minute + 40*time.Second, 2, 1, 0},
		{"maybe idled: probe down, retried", true, []error{unavailable()}, 29*time.Minute + 40*time.Second, 1, 2, 0},
		{"maybe idled: no prober", false, nil, 29*time.Minute + 40*time.Second, 2, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newSessionFake()
				f.probeErrs = tt.probeErrs
				var impl Provider = f
				if tt.prober {
					impl = probingFake{f}
				}
				k := newTestKeeper(t, impl, Options{}, func(s *ProfileSpec) { s.Provider = "vcd" })
				first := mustGet(t, k, GetOptions{})
				if want := time.Now().Add(30 * time.Minute); !first.ExpiresAt.Equal(want) {
					t.Errorf("ExpiresAt %v, want hand-out + idle timeout", time.Until(first.ExpiresAt))
				}
				time.Sleep(tt.quiet)
				var wg sync.WaitGroup
				for range 100 {
					wg.Go(func() { mustGet(t, k, GetOptions{}) })
				}
				wg.Wait()
				tok := mustGet(t, k, GetOptions{})
				if want := time.Now().Add(30 * time.Minute); !tok.ExpiresAt.Equal(want) {
					t.Errorf("a hand-out did not extend the session: expires in %v", time.Until(tok.ExpiresAt))
				}
				time.Sleep(time.Second) // background revocations
				logins, _, revokes, probes := f.snapshot()
				if logins != tt.wantLogins || probes != tt.wantProbes || revokes != tt.wantRevoke {
					t.Errorf("logins=%d probes=%d revokes=%d, want %d/%d/%d",
						logins, probes, revokes, tt.wantLogins, tt.wantProbes, tt.wantRevoke)
				}
				if renewed := tok.Fingerprint != first.Fingerprint; renewed != (tt.wantLogins > 1) {
					t.Errorf("token renewed=%v", renewed)
				}
			})
		})
	}
}

func TestKeepalive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newSessionFake()
		k := newTestKeeper(t, probingFake{f}, Options{}, func(s *ProfileSpec) { s.Keepalive = 10 * time.Minute })
		first := mustGet(t, k, GetOptions{})
		time.Sleep(3*time.Hour + time.Minute)
		logins, _, _, probes := f.snapshot()
		if logins != 1 || probes < 17 || probes > 18 {
			t.Fatalf("over 3h: logins=%d probes=%d, want 1 and one probe per 10 min", logins, probes)
		}
		t0 := time.Now()
		if tok := mustGet(t, k, GetOptions{}); tok.Fingerprint != first.Fingerprint || time.Since(t0) != 0 {
			t.Fatal("the kept-alive session was not served at once")
		}
		// The session dies upstream: the keepalive notices, stops, and the
		// next Get logs in.
		f.set(func(f *fake) { f.probeErrs = []error{sessionDead()} })
		time.Sleep(10 * time.Minute)
		_, _, _, probes = f.snapshot()
		if s := statusOf(t, k, "p"); s.State != StateEmpty {
			t.Fatalf("state %s after a dead keepalive probe", s.State)
		}
		time.Sleep(time.Hour)
		if _, _, _, p2 := f.snapshot(); p2 != probes {
			t.Errorf("keepalive went on without a session: %d probes after %d", p2, probes)
		}
		if tok := mustGet(t, k, GetOptions{}); tok.Fingerprint == first.Fingerprint {
			t.Error("the dead session was handed out")
		}
		if logins, _, _, _ := f.snapshot(); logins != 2 {
			t.Errorf("logins=%d, want 2", logins)
		}
	})
}

// Keepalive needs a Prober; without one nothing is scheduled.
func TestKeepaliveWithoutProber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newSessionFake()
		k := newTestKeeper(t, f, Options{}, func(s *ProfileSpec) { s.Keepalive = time.Minute })
		mustGet(t, k, GetOptions{})
		time.Sleep(time.Hour)
		if logins, _, _, probes := f.snapshot(); logins != 1 || probes != 0 {
			t.Errorf("logins=%d probes=%d", logins, probes)
		}
	})
}

// An idle timeout shorter than the safety margin (a simulator with
// --idle-timeout 2s) still serves a just-probed session: the probe slack
// is at most half the timeout.
func TestIdleTimeoutShorterThanMargin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newSessionFake()
		f.idle, f.latency = 2*time.Second, 10*time.Millisecond
		k := newTestKeeper(t, probingFake{f}, Options{})
		first := mustGet(t, k, GetOptions{})
		time.Sleep(1500 * time.Millisecond)
		tok := mustGet(t, k, GetOptions{})
		if logins, _, _, probes := f.snapshot(); logins != 1 || probes != 1 || tok.Fingerprint != first.Fingerprint {
			t.Errorf("logins=%d probes=%d; want the probed session served", logins, probes)
		}
	})
}

// A Get that finds a call in flight waits for it even when the call cannot
// give it a token (here a keepalive probe, while a host invalidated the
// session), then starts the renewal it needs: one Get may take several
// rounds (see maxRounds).
func TestGetAfterJoiningKeepalive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newSessionFake()
		k := newTestKeeper(t, probingFake{f}, Options{}, func(s *ProfileSpec) { s.Keepalive = 10 * time.Minute })
		first := mustGet(t, k, GetOptions{})
		time.Sleep(10*time.Minute + 100*time.Millisecond) // the keepalive probe is upstream now
		if dropped, err := k.Invalidate(t.Context(), "p", first.Fingerprint, "401"); !dropped || err != nil {
			t.Fatalf("Invalidate: %v %v", dropped, err)
		}
		tok := mustGet(t, k, GetOptions{})
		if logins, _, _, probes := f.snapshot(); tok.Fingerprint == first.Fingerprint || logins != 2 || probes != 1 {
			t.Errorf("logins=%d probes=%d renewed=%v, want the keepalive then a login", logins, probes, tok.Fingerprint != first.Fingerprint)
		}
	})
}
