package proxy

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

func TestHeldTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		f := &fakeTokens{}
		h := &heldTokens{src: f}
		get := func() string {
			tok, err := h.Token(ctx, "p", host.TokenOptions{MinValidity: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return tok.Fingerprint
		}
		for range 10 {
			if fp := get(); fp != "fp-0" {
				t.Fatalf("got %s", fp)
			}
		}
		if gets, _ := f.counts(); gets != 1 {
			t.Fatalf("10 requests within %s asked the token service %d times, want 1", tokenHold, gets)
		}
		time.Sleep(tokenHold)
		get()
		if gets, _ := f.counts(); gets != 2 {
			t.Fatalf("a token held %s was reused: %d calls", tokenHold, gets)
		}
		// A rejected token is dropped at once and never held again, even
		// when the service still hands it out (its invalidation racing).
		if err := h.Invalidate(ctx, "p", "fp-0", "401"); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.n = 0 // the service hands out fp-0 still
		f.mu.Unlock()
		for range 3 {
			if fp := get(); fp != "fp-0" {
				t.Fatalf("got %s", fp)
			}
		}
		if gets, _ := f.counts(); gets != 5 {
			t.Fatalf("a rejected token was held: %d calls, want 5", gets)
		}
	})
}
