package engine

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
)

// storageTimeout bounds one storage call made outside a request (the
// keeper's background refresh reads and writes the guard too).
const storageTimeout = 30 * time.Second

// storageFS is the guardfile.FS of the engine: every file is an entry
// under prefix in the mount's storage, replicated by Vault and seal-wrapped
// where the seal supports it (Paths.SealWrapStorage). Only the active node
// serves requests and runs the keeper, so its locks are in-process.
type storageFS struct {
	store  logical.Storage
	prefix string
	locks  *nameLocks
}

var _ guardfile.FS = storageFS{}

func newStorageFS(s logical.Storage, prefix string) storageFS {
	return storageFS{store: s, prefix: prefix, locks: newNameLocks()}
}

// ReadFile implements guardfile.FS: a missing entry wraps fs.ErrNotExist.
func (s storageFS) ReadFile(name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	e, err := s.store.Get(ctx, s.prefix+name)
	if err != nil {
		return nil, fmt.Errorf("could not read %s: %w", s.Path(name), err)
	}
	if e == nil {
		return nil, fmt.Errorf("%s: %w", s.Path(name), fs.ErrNotExist)
	}
	return e.Value, nil
}

// WriteFile implements guardfile.FS: one storage Put, atomic by Vault.
func (s storageFS) WriteFile(name string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	if err := s.store.Put(ctx, &logical.StorageEntry{Key: s.prefix + name, Value: data}); err != nil {
		return fmt.Errorf("could not write %s: %w", s.Path(name), err)
	}
	return nil
}

// Remove implements guardfile.FS.
func (s storageFS) Remove(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	if err := s.store.Delete(ctx, s.prefix+name); err != nil {
		return fmt.Errorf("could not delete %s: %w", s.Path(name), err)
	}
	return nil
}

// Lock implements guardfile.FS within this process: the active node is
// the engine's only writer.
func (s storageFS) Lock(ctx context.Context, name string) (func(), error) {
	return s.locks.lock(ctx, s.prefix+name)
}

// Path implements guardfile.FS: where an operator finds the entry.
func (s storageFS) Path(name string) string { return "engine storage " + s.prefix + name }

// nameLocks are exclusive locks by name that a context can give up on.
type nameLocks struct {
	mu   sync.Mutex // guards held
	held map[string]chan struct{}
}

func newNameLocks() *nameLocks { return &nameLocks{held: map[string]chan struct{}{}} }

// lock waits until it holds name or ctx ends, and returns the release.
func (l *nameLocks) lock(ctx context.Context, name string) (func(), error) {
	for {
		l.mu.Lock()
		ch, busy := l.held[name]
		if !busy {
			ch = make(chan struct{})
			l.held[name] = ch
			l.mu.Unlock()
			return func() { l.unlock(name, ch) }, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("could not lock %s: %w", name, ctx.Err())
		}
	}
}

func (l *nameLocks) unlock(name string, ch chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] == ch {
		delete(l.held, name)
		close(ch)
	}
}
