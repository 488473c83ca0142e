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

// holdingFake is a fake that, like a Cloud Director service account
// whose write-back failed, may hold a credential it could not store:
// while a login runs it is "in the middle of storing", and when the login
// is cancelled it saves what it holds (to a recovery file, say).
type holdingFake struct {
	*fake
	mu      sync.Mutex
	held    bool // a rotated credential is held unsaved
	saved   bool // the cancelled login saved it before returning
	saveErr error
}

var _ Holder = (*holdingFake)(nil)

func (h *holdingFake) Login(ctx context.Context) (provider.Grant, error) {
	h.mu.Lock()
	h.held = true
	h.mu.Unlock()
	<-ctx.Done() // the store keeps failing until the call is stopped
	h.mu.Lock()
	h.saved = true
	h.mu.Unlock()
	return provider.Grant{}, &provider.Error{Op: "store", Kind: provider.ErrUnavailable, Err: ctx.Err()}
}

func (h *holdingFake) SaveUnsaved(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held && h.saveErr != nil {
		return h.saveErr
	}
	h.held = false
	return nil
}

// TestAbandonStopsCallsWithoutRevoking: a one-shot process's Abandon
// cancels the call in flight and waits until the provider has saved what
// it held, revoking nothing.
func TestAbandonStopsCallsWithoutRevoking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &holdingFake{fake: newFake()}
		k, err := New([]ProfileSpec{{Name: "p", Provider: "vcd", Impl: h}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := k.Get(ctx, "p", GetOptions{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get: %v", err)
		}
		if err := k.Abandon(context.Background()); err != nil {
			t.Fatalf("Abandon: %v", err)
		}
		h.mu.Lock()
		saved := h.saved
		h.mu.Unlock()
		if !saved {
			t.Fatal("Abandon returned before the call in flight ended")
		}
		if _, _, revokes, _ := h.snapshot(); revokes != 0 {
			t.Fatalf("Abandon revoked %d grants", revokes)
		}
		if _, err := k.Get(context.Background(), "p", GetOptions{}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Get after Abandon: %v", err)
		}
	})
}

// TestSaveUnsaved reports a held credential per profile until it is
// stored, also after Close.
func TestSaveUnsaved(t *testing.T) {
	h := &holdingFake{fake: newFake(), held: true, saveErr: errors.New("disk full")}
	k, err := New([]ProfileSpec{{Name: "robot", Provider: "vcd", Impl: h}, {Name: "sddc", Provider: "vcf", Impl: newFake()}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Close(context.Background())
	err = k.SaveUnsaved(context.Background())
	if err == nil || err.Error() != `profile "robot": disk full` {
		t.Fatalf("SaveUnsaved with a held credential: %v", err)
	}
	h.mu.Lock()
	h.saveErr = nil
	h.mu.Unlock()
	if err := k.SaveUnsaved(context.Background()); err != nil {
		t.Fatalf("SaveUnsaved once storable: %v", err)
	}
}
