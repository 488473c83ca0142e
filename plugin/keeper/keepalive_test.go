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

// idleSession is a Cloud Director upstream with its idle clock: the
// session dies once nothing used it for the idle timeout. Only the login
// and the keeper's probes use it here; the host holding the token is idle
// (a Packer build between steps).
type idleSession struct {
	probingFake
	mu   sync.Mutex
	last time.Time // last use of the session upstream
}

func newIdleSession(f *fake) *idleSession { return &idleSession{probingFake: probingFake{f}} }

func (s *idleSession) Login(ctx context.Context) (provider.Grant, error) {
	g, err := s.probingFake.Login(ctx)
	if err == nil {
		s.touch()
	}
	return g, err
}

func (s *idleSession) Probe(ctx context.Context, g provider.Grant) error {
	if !s.alive() {
		return sessionDead()
	}
	err := s.probingFake.Probe(ctx, g)
	if err == nil {
		s.touch()
	}
	return err
}

func (s *idleSession) touch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = time.Now()
}

// alive reports whether the host could use the token now.
func (s *idleSession) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.last) <= s.fake.idle
}

// newJWTSession is Cloud Director with an OpenAPI login: a JWT living 24h
// whose session idles out after 30 min.
func newJWTSession() *fake {
	f := newSessionFake()
	f.accessTTL = 24 * time.Hour
	return f
}

// Rule 2 for idle-timeout sessions: a min validity beyond the idle timeout
// is honoured by keeping the session alive, and ExpiresAt tells the truth.
func TestMinValidityKeepsSessionAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := newIdleSession(newJWTSession())
		k := newTestKeeper(t, up, Options{}, func(s *ProfileSpec) { s.Provider = "vcd" })
		tok := mustGet(t, k, GetOptions{MinValidity: time.Hour})
		if want := time.Now().Add(time.Hour + DefaultSafetyMargin); !tok.ExpiresAt.Equal(want) {
			t.Fatalf("ExpiresAt in %v, want min validity + margin (1h0m30s)", time.Until(tok.ExpiresAt))
		}
		if s := statusOf(t, k, "p"); !s.AccessExpiresAt.Equal(tok.ExpiresAt) || !s.KeepAliveUntil.Equal(tok.ExpiresAt) {
			t.Errorf("status expires in %v, kept alive for %v; the token in %v",
				time.Until(s.AccessExpiresAt), time.Until(s.KeepAliveUntil), time.Until(tok.ExpiresAt))
		}
		time.Sleep(time.Hour) // the host does not touch the session
		if !up.alive() {
			t.Fatal("the session idled out before the min validity it was handed out for")
		}
		// Probed every 10 min (idle/3) until a probe carries the session
		// past the promise (the 4th, at 40 min, to 70 min), then no more.
		_, _, _, probes := up.snapshot()
		if probes != 4 {
			t.Errorf("probes in the hour = %d, want 4", probes)
		}
		time.Sleep(3 * time.Hour)
		if _, _, _, p := up.snapshot(); p != probes {
			t.Errorf("kept probing after the min validity: %d probes, want %d", p, probes)
		}
		if s := statusOf(t, k, "p"); !s.KeepAliveUntil.IsZero() {
			t.Errorf("status still keeps alive for %v after the promise", time.Until(s.KeepAliveUntil))
		}
		if logins, _, _, _ := up.snapshot(); logins != 1 {
			t.Errorf("logins=%d, want 1", logins)
		}
	})
}

// A later caller asking for longer extends the keepalive.
func TestMinValidityKeepaliveExtends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := newIdleSession(newJWTSession())
		k := newTestKeeper(t, up, Options{})
		first := mustGet(t, k, GetOptions{MinValidity: time.Hour})
		time.Sleep(50 * time.Minute)
		// A hand-out extends the session by the idle timeout, beyond the
		// first promise.
		if tok := mustGet(t, k, GetOptions{MinValidity: 5 * time.Minute}); time.Until(tok.ExpiresAt) != 30*time.Minute {
			t.Errorf("a shorter ask: expires in %v, want the idle timeout", time.Until(tok.ExpiresAt))
		}
		tok := mustGet(t, k, GetOptions{MinValidity: time.Hour})
		if want := time.Now().Add(time.Hour + DefaultSafetyMargin); tok.Fingerprint != first.Fingerprint || !tok.ExpiresAt.Equal(want) {
			t.Fatalf("second caller: same session %v, expires in %v", tok.Fingerprint == first.Fingerprint, time.Until(tok.ExpiresAt))
		}
		time.Sleep(time.Hour)
		if !up.alive() {
			t.Fatal("the extended keepalive stopped early")
		}
	})
}

// A min validity that nothing can honour is refused, not answered with a
// token that lives shorter.
func TestMinValidityBeyondSession(t *testing.T) {
	tests := []struct {
		name     string
		prober   bool
		oneShot  bool
		accessTT time.Duration
		min      time.Duration
		wantErr  bool
		wantExp  time.Duration // from the hand-out, when no error
	}{
		{"within the idle timeout", false, false, 24 * time.Hour, 20 * time.Minute, false, 30 * time.Minute},
		{"no prober", false, false, 24 * time.Hour, time.Hour, true, 0},
		{"one-shot keeper", true, true, 24 * time.Hour, time.Hour, true, 0},
		{"one-shot within the idle timeout", true, true, 24 * time.Hour, 20 * time.Minute, false, 30 * time.Minute},
		{"beyond the hard expiry", true, false, 2 * time.Hour, 3 * time.Hour, true, 0},
		{"up to the hard expiry", true, false, 2 * time.Hour, 100 * time.Minute, false, 100*time.Minute + 12*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newJWTSession()
				f.accessTTL = tt.accessTT
				var impl Provider = f
				if tt.prober {
					impl = probingFake{f}
				}
				k := newTestKeeper(t, impl, Options{OneShot: tt.oneShot, SafetyMargin: 12 * time.Second})
				tok, err := k.Get(context.Background(), "p", GetOptions{MinValidity: tt.min})
				if tt.wantErr {
					if !errors.Is(err, ErrMinValidity) {
						t.Fatalf("Get: %v, want ErrMinValidity", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if got := time.Until(tok.ExpiresAt); got != tt.wantExp {
					t.Errorf("expires in %v, want %v", got, tt.wantExp)
				}
			})
		})
	}
}

// ExpiresAt beyond the idle end holds only while the keepalive holds the
// session: once its probes failed long enough for the session to idle out,
// the keeper no longer claims it lives.
func TestMinValidityKeepaliveFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newJWTSession()
		for range 10 {
			f.probeErrs = append(f.probeErrs, unavailable())
		}
		k := newTestKeeper(t, probingFake{f}, Options{})
		tok := mustGet(t, k, GetOptions{MinValidity: time.Hour})
		idleEnd := time.Now().Add(30 * time.Minute)
		time.Sleep(29 * time.Minute)
		if s := statusOf(t, k, "p"); !s.AccessExpiresAt.Equal(tok.ExpiresAt) {
			t.Errorf("before the idle end: status expires in %v, want the promise", time.Until(s.AccessExpiresAt))
		}
		// Probes failed at 10 and 20 min; the third is due at 30m1s.
		time.Sleep(time.Minute + 500*time.Millisecond)
		if s := statusOf(t, k, "p"); !s.AccessExpiresAt.Equal(idleEnd) || s.State == StateValid || !s.KeepAliveUntil.IsZero() {
			t.Errorf("idled out: status %s, expires %v after the idle end, keepalive until %v",
				s.State, s.AccessExpiresAt.Sub(idleEnd), s.KeepAliveUntil)
		}
		if _, _, _, probes := f.snapshot(); probes != 2 {
			t.Errorf("probes=%d, want 2 (every 10 min)", probes)
		}
	})
}
