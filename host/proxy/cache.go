package proxy

import (
	"context"
	"sync"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// tokenHold is how long the proxy reuses a token without asking the token
// service again: a busy proxy asks about once a second instead of once a
// request (a round trip to the agent on every request, which on a loaded
// machine costs more than the proxy itself), and the token service still
// sees the profile in use.
const tokenHold = time.Second

// heldTokens hands out the token last fetched while it is at most
// tokenHold old, valid for the validity asked plus tokenHold, and not the
// one a 401 was last reported for (the token service may still hand that
// out while its invalidation is on the way).
type heldTokens struct {
	src host.TokenGetter

	mu       sync.Mutex // guards held, at and rejected
	held     *host.Token
	at       time.Time // when held was fetched
	rejected string    // fingerprint of the latest token reported rejected
}

func (h *heldTokens) Token(ctx context.Context, profile string, o host.TokenOptions) (*host.Token, error) {
	now := time.Now()
	h.mu.Lock()
	t := h.held
	if t != nil && now.Sub(h.at) < tokenHold && t.ExpiresAt.Sub(now) >= o.MinValidity+tokenHold &&
		t.Fingerprint != h.rejected && !o.ForceRefresh {
		h.mu.Unlock()
		return t, nil
	}
	h.mu.Unlock()
	t, err := h.src.Token(ctx, profile, o)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.held, h.at = t, now
	h.mu.Unlock()
	return t, nil
}

func (h *heldTokens) Invalidate(ctx context.Context, profile, fingerprint, reason string) error {
	h.mu.Lock()
	h.rejected = fingerprint
	if h.held != nil && h.held.Fingerprint == fingerprint {
		h.held = nil
	}
	h.mu.Unlock()
	return h.src.Invalidate(ctx, profile, fingerprint, reason)
}
