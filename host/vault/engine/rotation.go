package engine

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcd"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// storedServiceAccount is the vcd.RotatingSecret of a profile whose
// service-account token lives in the engine's storage: a rotated token is
// Put there (replicated to every node, surviving a restart and a
// failover) before the provider returns the grant it came with.
type storedServiceAccount struct {
	store logical.Storage
	name  string
	locks *nameLocks
}

var _ vcd.RotatingSecret = storedServiceAccount{}

// Resolve returns the token as stored now.
func (s storedServiceAccount) Resolve(ctx context.Context) (secret.Secret, error) {
	return loadSecret(ctx, s.store, s.name)
}

// BeginRotation locks the profile's token against another exchange in
// this process and reads it.
func (s storedServiceAccount) BeginRotation(ctx context.Context) (vcd.Rotation, error) {
	unlock, err := s.locks.lock(ctx, secretPrefix+s.name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", secret.ErrBusy, err)
	}
	v, err := s.Resolve(ctx)
	if err != nil {
		unlock()
		return nil, err
	}
	return &storageRotation{s: s, value: v, unlock: unlock}, nil
}

// StoreHeld stores h.Token, which a failed Commit left with the provider,
// unless the profile's token was rewritten since (an operator wrote a new
// one): then it is secret.ErrSuperseded.
func (s storedServiceAccount) StoreHeld(ctx context.Context, h vcd.Held) error {
	unlock, err := s.locks.lock(ctx, secretPrefix+s.name)
	if err != nil {
		return fmt.Errorf("%w: %w", secret.ErrBusy, err)
	}
	defer unlock()
	cur, err := s.Resolve(ctx)
	if err == nil && !h.Replaces.IsZero() && !cur.Equal(h.Token) && !cur.Equal(h.Replaces) {
		return secret.ErrSuperseded
	}
	if err := storeSecret(ctx, s.store, s.name, h.Token); err != nil {
		return &secret.NotStoredError{Target: s.target(), Err: err}
	}
	return nil
}

func (s storedServiceAccount) target() string { return "engine storage " + secretPrefix + s.name }

// storageRotation is one read → exchange → store cycle under the lock.
type storageRotation struct {
	s      storedServiceAccount
	value  secret.Secret
	unlock func()
}

// Value is the token as read under the lock.
func (r *storageRotation) Value() secret.Secret { return r.value }

// Reread reads the stored token again.
func (r *storageRotation) Reread(ctx context.Context) (secret.Secret, error) {
	v, err := r.s.Resolve(ctx)
	if err == nil {
		r.value = v
	}
	return v, err
}

// Commit stores the rotated token. It runs to its end even when the
// caller gives up: the server has already spent the old token.
func (r *storageRotation) Commit(ctx context.Context, v secret.Secret) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storageTimeout)
	defer cancel()
	if err := storeSecret(ctx, r.s.store, r.s.name, v); err != nil {
		return &secret.NotStoredError{Target: r.s.target(), Err: err}
	}
	r.value = v
	return nil
}

// Close releases the lock; it is safe to call more than once.
func (r *storageRotation) Close() error {
	if r.unlock != nil {
		r.unlock()
		r.unlock = nil
	}
	return nil
}
