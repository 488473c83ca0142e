package keeper

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// Detach forgets the profile and revokes only what leaves handed-out
// access tokens working: the refresh credential of a Detacher (VCF),
// nothing of a provider whose revocation is a logout (Cloud Director).
func TestDetach(t *testing.T) {
	tests := []struct {
		name         string
		detacher     bool
		wantDetaches int
	}{
		{"detacher revokes the refresh credential", true, 1},
		{"logout-only provider: forget only", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				var impl Provider = f
				if tt.detacher {
					impl = detachingFake{f}
				}
				k := newTestKeeper(t, impl, Options{})
				if err := k.Detach(t.Context(), "p"); err != nil {
					t.Fatalf("Detach of an empty profile: %v", err)
				}
				tok := mustGet(t, k, GetOptions{})
				if err := k.Detach(t.Context(), "p"); err != nil {
					t.Fatalf("Detach: %v", err)
				}
				f.mu.Lock()
				if f.detaches != tt.wantDetaches || f.revokes != 0 {
					t.Errorf("detaches=%d revokes=%d, want %d/0", f.detaches, f.revokes, tt.wantDetaches)
				}
				if tt.detacher && (len(f.detached) != 1 || !f.detached[0].Access.Equal(tok.Access) || len(f.refreshIDs) != 0) {
					t.Errorf("detached the wrong grant or left its refresh id live (%d)", len(f.refreshIDs))
				}
				f.mu.Unlock()
				s := statusOf(t, k, "p")
				if s.State != StateEmpty || s.Fingerprint != "" || s.Counts.Revocations != int64(tt.wantDetaches) {
					t.Errorf("status after Detach %+v", s)
				}
				time.Sleep(2 * time.Hour) // no timer survives
				if logins, refreshes, revokes, _ := f.snapshot(); logins != 1 || refreshes != 0 || revokes != 0 {
					t.Errorf("upstream calls after Detach: logins=%d refreshes=%d revokes=%d", logins, refreshes, revokes)
				}
				if got := mustGet(t, k, GetOptions{}); got.Fingerprint == tok.Fingerprint {
					t.Error("a detached token was handed out again")
				}
			})
		})
	}
}

// A failed Detach is reported, classified; the state is forgotten anyway.
func TestDetachFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.revokeErrs = []error{&provider.Error{Op: "revoke refresh token", Status: 503, Kind: provider.ErrUnavailable}}
		k := newTestKeeper(t, detachingFake{f}, Options{})
		mustGet(t, k, GetOptions{})
		if err := k.Detach(t.Context(), "p"); !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("Detach: %v, want the upstream failure", err)
		}
		if s := statusOf(t, k, "p"); s.State != StateEmpty || s.Counts.Revocations != 0 {
			t.Errorf("status %+v", s)
		}
		if err := k.Detach(t.Context(), "nope"); !errors.Is(err, ErrUnknownProfile) {
			t.Errorf("Detach of an unknown profile: %v", err)
		}
	})
}
