package keeper

import (
	"context"
	"errors"
	"fmt"
)

// Holder is implemented by providers that can hold a credential the
// upstream issued but that could not be stored (a rotated Cloud Director
// service-account token whose write-back failed): the only valid copy
// may then live in this process.
type Holder interface {
	// SaveUnsaved tries once to store what is held; nil when nothing is
	// held any more, else why not (naming any recovery copy).
	SaveUnsaved(ctx context.Context) error
}

// SaveUnsaved asks every provider that is a Holder to store what it
// holds, once. It returns nil when no profile holds an unsaved credential
// any more, else the joined reasons, one per profile. It works after
// Close too: an agent calls it until it succeeds before it exits.
func (k *Keeper) SaveUnsaved(ctx context.Context) error {
	var errs []error
	for _, n := range k.names {
		h, ok := k.profiles[n].spec.Impl.(Holder)
		if !ok {
			continue
		}
		if err := h.SaveUnsaved(ctx); err != nil {
			errs = append(errs, fmt.Errorf("profile %q: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// Abandon stops the keeper without revoking anything: it cancels the
// upstream calls in flight and waits, within ctx, until they have ended,
// so that a provider in the middle of storing a rotated credential saves
// it (to its recovery file) before the process exits. A one-shot process
// (get --no-agent) calls it instead of Close, which would revoke the
// token it printed. Later Gets fail with ErrClosed.
func (k *Keeper) Abandon(ctx context.Context) error {
	k.closeMu.Lock()
	defer k.closeMu.Unlock()
	if !k.stopLocked() {
		return k.closeErr
	}
	var errs []error
	for _, n := range k.names {
		errs = append(errs, k.profiles[n].waitIdle(ctx))
	}
	return errors.Join(append(errs, k.releaseShared(ctx))...)
}
