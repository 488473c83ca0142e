// Package engine is tokenkeeper's Vault secrets engine: a Vault plugin
// that embeds the keeper and the providers, so that one engine logs in
// once per account for a whole fleet, refreshes ahead of expiry, guards
// the account with one lockout budget for every runner and hands out
// only access tokens, under Vault policy.
//
// What lives where: the login secrets of each profile, the lockout
// guard's records and every rotated service-account token live in the
// mount's storage (seal-wrapped, replicated, written before anything is
// handed out); access tokens live only in the memory of the active node.
package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
)

// teardownTimeout bounds the upstream revocations of a cleanup, a profile
// update or a delete.
const teardownTimeout = 30 * time.Second

// backendHelp is the engine's help text (vault path-help).
const backendHelp = `
The tokenkeeper engine owns the VMware API tokens of a fleet: it keeps the
login secrets of each profile (SDDC Manager, Cloud Director) in Vault's
storage, logs in once per account, refreshes ahead of expiry, guards each
account against lockout with one budget for every reader, and hands out
only short-lived access tokens at token/<name>.
`

// Factory is the logical.Factory of the engine.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := newBackend(conf)
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

// backend is one mount of the engine.
type backend struct {
	*framework.Backend
	store  logical.Storage // the mount's storage, usable outside requests
	guards keeper.GuardStore
	locks  *nameLocks // service-account rotations, by storage key
	log    hclog.Logger

	mu   sync.Mutex // guards live
	live map[string]*keeper.Keeper
}

func newBackend(conf *logical.BackendConfig) *backend {
	log := conf.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	b := &backend{
		store: conf.StorageView,
		locks: newNameLocks(),
		log:   log,
		live:  map[string]*keeper.Keeper{},
	}
	b.guards = guardfile.NewFSRemedy(newStorageFS(conf.StorageView, guardPrefix), guardStoreRemedy)
	b.Backend = &framework.Backend{
		Help:        strings.TrimSpace(backendHelp),
		BackendType: logical.TypeLogical,
		PathsSpecial: &logical.Paths{
			SealWrapStorage: []string{secretPrefix, guardPrefix},
		},
		Paths:      b.paths(),
		Clean:      b.cleanup,
		Invalidate: b.invalidate,
	}
	return b
}

func (b *backend) paths() []*framework.Path {
	return append(profilePaths(b), b.tokenPaths()...)
}

// keeperFor returns the keeper of profile name, building it from storage
// on first use; mount is the request's (its messages name paths there).
func (b *backend) keeperFor(ctx context.Context, mount, name string) (*keeper.Keeper, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if k, ok := b.live[name]; ok {
		return k, nil
	}
	c, err := loadConfig(ctx, b.store, name)
	if err != nil {
		return nil, err
	}
	k, err := b.build(mount, name, c)
	if err != nil {
		return nil, err
	}
	b.live[name] = k
	return k, nil
}

// drop forgets the keeper of name and closes it, revoking upstream what it
// holds; the next read builds a new one from storage.
func (b *backend) drop(ctx context.Context, name string) error {
	b.mu.Lock()
	k, ok := b.live[name]
	delete(b.live, name)
	b.mu.Unlock()
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), teardownTimeout)
	defer cancel()
	return k.Close(ctx)
}

// cleanup runs when the mount goes away on this node (unmount, seal,
// step-down, plugin reload): every profile is revoked upstream.
func (b *backend) cleanup(ctx context.Context) {
	b.mu.Lock()
	names := make([]string, 0, len(b.live))
	for n := range b.live {
		names = append(names, n)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			if err := b.drop(ctx, n); err != nil {
				b.log.Warn("could not revoke a profile upstream at cleanup", "profile", n, "error", err)
			}
		})
	}
	wg.Wait()
}

// invalidate drops the keeper of a profile whose storage another node
// changed, so that the next read sees the new settings.
func (b *backend) invalidate(ctx context.Context, key string) {
	for _, prefix := range []string{profilePrefix, secretPrefix} {
		if name, ok := strings.CutPrefix(key, prefix); ok {
			if err := b.drop(ctx, name); err != nil {
				b.log.Warn("could not revoke a changed profile upstream", "profile", name, "error", err)
			}
		}
	}
}

// withKeeper runs f with the keeper of name, once more with a new keeper
// when the first was closed under it by a concurrent update.
func (b *backend) withKeeper(ctx context.Context, mount, name string, f func(*keeper.Keeper) error) error {
	for range 2 {
		k, err := b.keeperFor(ctx, mount, name)
		if err != nil {
			return err
		}
		if err = f(k); !errors.Is(err, keeper.ErrClosed) {
			return err
		}
	}
	return keeper.ErrClosed
}
