// Package guardfile keeps the keeper's lockout guard in a file that every
// tokenkeeper process of the user shares — `get --no-agent`, `config check
// --online`, go-plugin children, each new agent — so that a wrong password
// reaches the upstream once per backoff step in all of them together, not
// once per process (DESIGN lifecycle rule 6).
//
// The directory must be private (the agent's runtime directory, as
// agent.RuntimeDir finds and verifies it). It holds guard.json, a map from
// profile key to the last rejection; guard.key, a random 32-byte key;
// guard.lock, flocked around every read-modify-write; and one
// guard-<hash>.lock per profile, held across a login. The file records a
// credential only as HMAC-SHA256(key, credential), so guard.json alone
// never holds a hash of a password that could be tested offline.
package guardfile

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// The files of the store in its directory.
const (
	StateFile = "guard.json"
	KeyFile   = "guard.key"
	LockFile  = "guard.lock"
)

// Retention is how long a record outlives its RetryAt before a write
// prunes it. It exceeds the longest backoff step (30 min) so that the
// doubling carries over between processes; a day without a retry starts
// over at one minute.
const Retention = 24 * time.Hour

const keySize = 32

// Store is a keeper.GuardStore in files of one private directory. It is
// safe for concurrent use by goroutines and processes.
type Store struct {
	dir string
	now func() time.Time
}

var (
	_ keeper.GuardStore  = (*Store)(nil)
	_ keeper.LoginLocker = (*Store)(nil)
)

// New returns the store in dir, which must exist and be private to the
// user (see agent.RuntimeDir). now stamps pruning; nil means time.Now.
// Nothing is read or written before the first call.
func New(dir string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{dir: dir, now: now}
}

// Path is the state file, for messages that tell the user how to reset it.
func (s *Store) Path() string { return filepath.Join(s.dir, StateFile) }

// record is one profile's rejection as guard.json holds it.
type record struct {
	Credential string    `json:"credential"` // hex HMAC-SHA256(key, credential)
	Rejections int       `json:"rejections"`
	RetryAt    time.Time `json:"retryAt"`
	LastError  string    `json:"lastError,omitempty"`
}

// state is the content of guard.json.
type state struct {
	Version int               `json:"version"`
	Entries map[string]record `json:"entries"`
}

// Load returns the rejection recorded under key. Its Credential is cred
// when the record was made for cred, zero otherwise. A missing or corrupt
// file holds nothing.
func (s *Store) Load(ctx context.Context, key string, cred secret.Secret) (keeper.GuardState, bool, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return keeper.GuardState{}, false, err
	}
	defer unlock()
	st, _, err := s.read()
	if err != nil {
		return keeper.GuardState{}, false, err
	}
	r, ok := st.Entries[key]
	if !ok {
		return keeper.GuardState{}, false, nil
	}
	gs := keeper.GuardState{Rejections: r.Rejections, RetryAt: r.RetryAt, LastError: r.LastError}
	if k, err := s.readKey(); err == nil && sameMAC(r.Credential, k, cred) {
		gs.Credential = cred
	}
	return gs, true, nil
}

// Save records gs under key, creating the HMAC key on first use, and
// prunes records past their retention.
func (s *Store) Save(ctx context.Context, key string, gs keeper.GuardState) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	k, err := s.key()
	if err != nil {
		return err
	}
	st, _, err := s.read()
	if err != nil {
		return err
	}
	st.Entries[key] = record{Credential: hex.EncodeToString(mac(k, gs.Credential)),
		Rejections: gs.Rejections, RetryAt: gs.RetryAt.UTC(), LastError: gs.LastError}
	return s.write(st)
}

// Clear forgets key. It writes only when there is something to change: a
// record to drop or a corrupt file to replace.
func (s *Store) Clear(ctx context.Context, key string) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	st, corrupt, err := s.read()
	if err != nil {
		return err
	}
	_, ok := st.Entries[key]
	if !ok && !corrupt {
		return nil
	}
	delete(st.Entries, key)
	return s.write(st)
}

// LockLogin holds off every other LockLogin of key, in any process, until
// the returned release: the keeper holds it from Load until the login's
// outcome is saved, so processes starting at once try a rejected
// credential once in all. Each key has its own lock file
// (guard-<hash of key>.lock), so one profile's slow login does not delay
// another's.
func (s *Store) LockLogin(ctx context.Context, key string) (func(), error) {
	sum := sha256.Sum256([]byte(key))
	return lockFile(ctx, filepath.Join(s.dir, "guard-"+hex.EncodeToString(sum[:8])+".lock"))
}

// lock guards one read-modify-write of the state file.
func (s *Store) lock(ctx context.Context) (func(), error) {
	return lockFile(ctx, filepath.Join(s.dir, LockFile))
}

func lockFile(ctx context.Context, path string) (func(), error) {
	l, err := agent.Lock(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("could not lock the lockout guard: %w", err)
	}
	return func() { _ = l.Unlock() }, nil
}

// read returns the state; a missing file is empty, a corrupt one empty and
// reported so that the next write replaces it.
func (s *Store) read() (st state, corrupt bool, err error) {
	st.Entries = map[string]record{}
	data, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("could not read the lockout guard file: %w", err)
	}
	if json.Unmarshal(data, &st) != nil || st.Entries == nil {
		return state{Entries: map[string]record{}}, true, nil
	}
	return st, false, nil
}

// write prunes expired records and replaces the file atomically, 0600.
func (s *Store) write(st state) error {
	cutoff := s.now().Add(-Retention)
	for k, r := range st.Entries {
		if r.RetryAt.Before(cutoff) {
			delete(st.Entries, k)
		}
	}
	st.Version = 1
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("could not encode the lockout guard: %w", err)
	}
	if err := secret.WriteFileAtomic(s.Path(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("could not write the lockout guard file: %w", err)
	}
	return nil
}

// key returns the HMAC key, creating it once (the caller holds the lock).
// A key of the wrong size is replaced: the records made with it no longer
// match, which costs at most one more login attempt each.
func (s *Store) key() ([]byte, error) {
	if k, err := s.readKey(); err == nil {
		return k, nil
	}
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("could not create the lockout guard key: %w", err)
	}
	if err := secret.WriteFileAtomic(filepath.Join(s.dir, KeyFile), k, 0o600); err != nil {
		return nil, fmt.Errorf("could not write the lockout guard key: %w", err)
	}
	return k, nil
}

var errBadKey = errors.New("lockout guard key has the wrong size")

func (s *Store) readKey() ([]byte, error) {
	k, err := os.ReadFile(filepath.Join(s.dir, KeyFile))
	if err != nil {
		return nil, err
	}
	if len(k) != keySize {
		return nil, errBadKey
	}
	return k, nil
}

func mac(k []byte, cred secret.Secret) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(cred.Reveal()))
	return m.Sum(nil)
}

// sameMAC reports whether recorded (hex) is the MAC of cred under k.
func sameMAC(recorded string, k []byte, cred secret.Secret) bool {
	want, err := hex.DecodeString(recorded)
	return err == nil && !cred.IsZero() && hmac.Equal(want, mac(k, cred))
}
