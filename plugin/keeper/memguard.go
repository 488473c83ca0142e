package keeper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// memGuards is the GuardStore of a keeper built without one: the budget
// of each account holds across the keeper's profiles, in this process
// only.
type memGuards struct {
	mu    sync.Mutex // guards recs and locks
	recs  map[string]GuardRecord
	locks map[string]chan struct{}
}

func newMemGuards() *memGuards {
	return &memGuards{recs: map[string]GuardRecord{}, locks: map[string]chan struct{}{}}
}

// memID names a in memory; a keyed principal by a hash of its material
// (it never leaves the process).
func memID(a provider.Account) string {
	sum := sha256.Sum256([]byte(a.Material.Reveal()))
	return a.ID(hex.EncodeToString(sum[:]))
}

// memDigest names a failed credential in memory.
func memDigest(cred secret.Secret) string {
	sum := sha256.Sum256([]byte(cred.Reveal()))
	return hex.EncodeToString(sum[:])
}

func (m *memGuards) LockLogin(ctx context.Context, a provider.Account) (func(), error) {
	m.mu.Lock()
	l, ok := m.locks[memID(a)]
	if !ok {
		l = make(chan struct{}, 1)
		m.locks[memID(a)] = l
	}
	m.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *memGuards) Update(_ context.Context, a provider.Account, cred secret.Secret, f func(GuardRecord) GuardRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := memID(a)
	r := m.recs[id]
	r.Credential = secret.Secret{}
	if !cred.IsZero() && slices.Contains(r.Failed, memDigest(cred)) {
		r.Credential = cred
	}
	r = f(r)
	if !r.Credential.IsZero() {
		r.Failed = AddFailed(r.Failed, memDigest(r.Credential))
	}
	r.Credential = secret.Secret{}
	if r.IsZero() {
		delete(m.recs, id)
	} else {
		m.recs[id] = r
	}
	return nil
}
