// Package guardfile keeps the keeper's lockout guard in files that every
// tokenkeeper process of the user shares — agents, `get --no-agent`,
// `config check --online`, go-plugin children — so that the budget of an
// account holds in all of them together (DESIGN lifecycle rule 6).
//
// The directory must be private (the agent's runtime directory). It holds
// guard.json, a map from account to its record; guard.key, a random
// 32-byte key; guard.lock, flocked around every read-modify-write; and one
// guard-<hash>.lock per account, held across a login. A credential is
// recorded only as HMAC-SHA256(key, credential), and an API key, API
// token or service-account file only by a keyed fingerprint, so the file
// alone never holds a hash of a secret that could be tested offline. It
// never holds upstream text either: only the class of a failure.
//
// The store fails closed: a file it cannot read, lock or write, a corrupt
// file or key is an error naming the path and the fix, and the keeper
// then attempts no login.
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
	"slices"
	"sort"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// The files of the store in its directory.
const (
	StateFile = "guard.json"
	KeyFile   = "guard.key"
	LockFile  = "guard.lock"
)

// Retention is how long a record outlives its RetryAt and its last
// attempt before a write prunes it. It exceeds the longest backoff step
// (30 min) so that the doubling carries over between processes; a day
// without a retry starts over at one minute.
const Retention = 24 * time.Hour

const (
	keySize = 32
	version = 2
	// legacyVersion is the format before one budget per account: records
	// named by provider, URL and profile, each a credential's MAC, a
	// count of rejections and a RetryAt.
	legacyVersion = 1
)

// Store is a keeper.GuardStore in files of one private directory. It is
// safe for concurrent use by goroutines and processes.
type Store struct {
	fs     FS
	remedy Remedy
}

var _ keeper.GuardStore = (*Store)(nil)

// Remedy is what the store's messages tell a user to do about its files
// where the local commands cannot reach them (the Vault engine keeps them
// in its mount's storage).
type Remedy struct {
	// Reset starts the lockout records afresh: the way out of a corrupt
	// file.
	Reset string
	// Check is what to check before a retry when the FS itself fails.
	Check string
}

// localRemedy is the Remedy of a store in the runtime directory.
var localRemedy = Remedy{
	Reset: "`tokenkeeper guard reset --all` then starts the lockout records afresh",
	Check: "check that its directory is a private directory you can write (XDG_RUNTIME_DIR)",
}

// NewFS returns the store over fsys, in the runtime directory.
func NewFS(fsys FS) *Store { return &Store{fs: fsys, remedy: localRemedy} }

// NewFSRemedy returns the store over fsys whose messages name r; an empty
// field of r is the runtime directory's.
func NewFSRemedy(fsys FS, r Remedy) *Store {
	if r.Reset == "" {
		r.Reset = localRemedy.Reset
	}
	if r.Check == "" {
		r.Check = localRemedy.Check
	}
	return &Store{fs: fsys, remedy: r}
}

// NewIn returns the store in the open runtime directory d
// (paths.OpenRuntimeDir), which must stay open while the store is used.
func NewIn(d *paths.Dir) *Store { return NewFS(RootFS{d}) }

// Failed returns a store whose every operation fails with err (wrapped
// with the fix): the runtime directory could not be set up, so no login
// may go ahead.
func Failed(err error) *Store { return NewFS(failedFS{err: err}) }

// Path is the state file, for messages that tell the user how to reset it.
func (s *Store) Path() string { return s.fs.Path(StateFile) }

// record is one account's state as guard.json holds it.
type record struct {
	Provider  string `json:"provider"`
	Origin    string `json:"origin"`
	Principal string `json:"principal"` // the user, or kind and keyed fingerprint
	// Credential is the one failed credential an earlier version of this
	// format kept (hex HMAC-SHA256(key, credential)); read, never written.
	Credential string `json:"credential,omitempty"`
	// Credentials are the hex HMAC-SHA256(key, credential) of the
	// credentials that failed since the last success, newest last.
	Credentials   []string    `json:"credentials,omitempty"`
	Failures      int         `json:"failures,omitempty"`
	RetryAt       time.Time   `json:"retryAt,omitzero"`
	ServerRetryAt time.Time   `json:"serverRetryAt,omitzero"`
	Rejected      bool        `json:"rejected,omitempty"`
	Outcome       string      `json:"outcome,omitempty"` // class only, never upstream text
	Attempts      []time.Time `json:"attempts,omitempty"`
	Pending       time.Time   `json:"pending,omitzero"`
}

// failed are r's failed credential digests, the older format's included.
func (r record) failed() []string {
	if r.Credential == "" {
		return r.Credentials
	}
	return keeper.AddFailed(slices.Clone(r.Credentials), r.Credential)
}

// state is the content of guard.json.
type state struct {
	Version int               `json:"version"`
	Entries map[string]record `json:"entries"`
}

// LockLogin holds off every other LockLogin of account a, in any process,
// until the returned release. Each account has its own lock file
// (guard-<hash of its id>.lock), so one account's slow login does not
// delay another's.
func (s *Store) LockLogin(ctx context.Context, a provider.Account) (func(), error) {
	id, _, err := s.idOf(ctx, a)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(id))
	name := "guard-" + hex.EncodeToString(sum[:8]) + ".lock"
	unlock, err := s.fs.Lock(ctx, name)
	if err != nil {
		return nil, s.fail("lock", name, err)
	}
	return unlock, nil
}

// Update implements keeper.GuardStore.
func (s *Store) Update(ctx context.Context, a provider.Account, cred secret.Secret, f func(keeper.GuardRecord) keeper.GuardRecord) error {
	return s.locked(ctx, func() error {
		k, err := s.key(true)
		if err != nil {
			return err
		}
		st, err := s.read()
		if err != nil {
			return err
		}
		id, principal := ids(k, a)
		out := f(fromRecord(st.Entries[id], k, cred))
		if out.IsZero() {
			if _, ok := st.Entries[id]; !ok {
				return nil // nothing to change: no write
			}
			delete(st.Entries, id)
		} else {
			st.Entries[id] = toRecord(a, principal, out, k)
		}
		return s.write(st)
	})
}

// locked runs f under the state lock.
func (s *Store) locked(ctx context.Context, f func() error) error {
	unlock, err := s.fs.Lock(ctx, LockFile)
	if err != nil {
		return s.fail("lock", LockFile, err)
	}
	defer unlock()
	return f()
}

// idOf is the record id of a and its principal as the record shows it.
func (s *Store) idOf(ctx context.Context, a provider.Account) (id, principal string, err error) {
	if !a.Keyed() {
		id, principal = ids(nil, a)
		return id, principal, nil
	}
	err = s.locked(ctx, func() error {
		k, err := s.key(true)
		if err == nil {
			id, principal = ids(k, a)
		}
		return err
	})
	return id, principal, err
}

// ids names a: a keyed principal by HMAC(key, material), shortened.
func ids(k []byte, a provider.Account) (id, principal string) {
	if !a.Keyed() {
		return a.ID(""), a.Principal
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte("principal\x00" + a.Kind + "\x00" + a.Material.Reveal()))
	fp := hex.EncodeToString(m.Sum(nil))[:16]
	return a.ID(fp), a.Kind + " " + fp
}

func fromRecord(r record, k []byte, cred secret.Secret) keeper.GuardRecord {
	g := keeper.GuardRecord{Failed: r.failed(), Failures: r.Failures, RetryAt: r.RetryAt,
		ServerRetryAt: r.ServerRetryAt, Rejected: r.Rejected, Outcome: r.Outcome,
		Attempts: r.Attempts, Pending: r.Pending}
	for _, d := range g.Failed {
		if sameMAC(d, k, cred) {
			g.Credential = cred
		}
	}
	return g
}

func toRecord(a provider.Account, principal string, g keeper.GuardRecord, k []byte) record {
	r := record{Provider: a.Provider, Origin: a.Origin, Principal: principal, Failures: g.Failures,
		RetryAt: g.RetryAt.UTC(), ServerRetryAt: g.ServerRetryAt.UTC(), Rejected: g.Rejected,
		Outcome: g.Outcome, Pending: g.Pending.UTC(), Credentials: g.Failed}
	for _, t := range g.Attempts {
		r.Attempts = append(r.Attempts, t.UTC())
	}
	if !g.Credential.IsZero() {
		r.Credentials = keeper.AddFailed(r.Credentials, hex.EncodeToString(mac(k, g.Credential)))
	}
	return r
}

// Entry is one account's record as `tokenkeeper guard status` shows it:
// no secret, no digest of one.
type Entry struct {
	ID        string // the record's name, for Reset
	Provider  string
	Origin    string
	Principal string
	Failures  int
	Rejected  bool
	Outcome   string
	// RetryAt is when the next login is allowed: the latest of the
	// backoff (for the credentials that failed), the server's Retry-After
	// and the hard ceiling.
	RetryAt time.Time
	// Recent are the failed or unknown-outcome attempts (a pending one
	// included) within the ceiling's window at the time of List.
	Recent int
}

// List returns every record, sorted by id.
func (s *Store) List(ctx context.Context) ([]Entry, error) {
	var out []Entry
	err := s.locked(ctx, func() error {
		st, err := s.read()
		if err != nil {
			return err
		}
		now := time.Now()
		for id, r := range st.Entries {
			e := Entry{ID: id, Provider: r.Provider, Origin: r.Origin, Principal: r.Principal,
				Failures: r.Failures, Rejected: r.Rejected, Outcome: r.Outcome, RetryAt: r.RetryAt}
			if r.ServerRetryAt.After(e.RetryAt) {
				e.RetryAt = r.ServerRetryAt
			}
			var recent []time.Time
			for _, t := range append(r.Attempts, r.Pending) {
				if !t.IsZero() && now.Sub(t) < keeper.CeilingWindow {
					recent = append(recent, t)
				}
			}
			sort.Slice(recent, func(i, j int) bool { return recent[i].Before(recent[j]) })
			if e.Recent = len(recent); e.Recent >= keeper.CeilingAttempts {
				if at := recent[e.Recent-keeper.CeilingAttempts].Add(keeper.CeilingWindow); at.After(e.RetryAt) {
					e.RetryAt = at
				}
			}
			out = append(out, e)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// Reset forgets the backoff of account a — failures, failed credentials,
// RetryAt — and reports whether there was a record. The attempts still
// within the ceiling's window stay: a reset after an administrator
// unlocked the account must not let 2 more failed logins follow at once.
func (s *Store) Reset(ctx context.Context, a provider.Account) (bool, error) {
	var found bool
	err := s.locked(ctx, func() error {
		k, err := s.key(a.Keyed())
		if err != nil {
			return err
		}
		st, err := s.read()
		if err != nil {
			return err
		}
		id, _ := ids(k, a)
		var r record
		if r, found = st.Entries[id]; !found {
			return nil
		}
		s.resetEntry(st, id, r)
		return s.write(st)
	})
	return found, err
}

// ResetAll forgets the backoff of every record as Reset does, replaces a
// corrupt file, and reports how many records there were.
func (s *Store) ResetAll(ctx context.Context) (int, error) {
	var n int
	err := s.locked(ctx, func() error {
		st, err := s.read()
		n = len(st.Entries)
		if err != nil && !errors.Is(err, errCorrupt) && !errors.Is(err, errLegacyActive) {
			return err
		}
		if err != nil {
			st = state{Entries: map[string]record{}}
		}
		for id, r := range st.Entries {
			s.resetEntry(st, id, r)
		}
		if _, err := s.key(false); err != nil {
			// A corrupt key matches no record: start over with a new one.
			if err := s.fs.Remove(KeyFile); err != nil {
				return s.fail("write", KeyFile, err)
			}
		}
		return s.write(st)
	})
	return n, err
}

// resetEntry keeps of r in st only what the ceiling still counts at now:
// its attempts within the window and a login in flight; the server's
// Retry-After stays too. Nothing left removes it.
func (s *Store) resetEntry(st state, id string, r record) {
	now := time.Now()
	kept := record{Provider: r.Provider, Origin: r.Origin, Principal: r.Principal}
	if now.Before(r.ServerRetryAt) {
		kept.ServerRetryAt = r.ServerRetryAt
	}
	for _, t := range r.Attempts {
		if now.Sub(t) < keeper.CeilingWindow {
			kept.Attempts = append(kept.Attempts, t)
		}
	}
	if now.Sub(r.Pending) < keeper.CeilingWindow {
		kept.Pending = r.Pending
	}
	if len(kept.Attempts) == 0 && kept.Pending.IsZero() && kept.ServerRetryAt.IsZero() {
		delete(st.Entries, id)
		return
	}
	st.Entries[id] = kept
}

var errCorrupt = errors.New("not a lockout guard file (corrupt)")

// errLegacyActive: a file of the legacy version still holds a backoff.
var errLegacyActive = errors.New("a lockout record of an older tokenkeeper still holds a backoff")

// read returns the state; a missing file is empty. A file of the legacy
// version holds records of profiles, not accounts, which cannot be mapped
// to an account: it reads as empty once none of them holds a backoff any
// more, and fails closed until then. Anything else that is not a file of
// this version — unparseable, null, {}, another version, no entries — is
// corrupt: the guard fails closed.
func (s *Store) read() (state, error) {
	st := state{Entries: map[string]record{}}
	data, err := s.fs.ReadFile(StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, s.fail("read", StateFile, err)
	}
	var v struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(data, &v) != nil {
		return st, s.fail("read", StateFile, errCorrupt)
	}
	if v.Version == legacyVersion {
		return st, s.readLegacy(data)
	}
	var got state
	if json.Unmarshal(data, &got) != nil || got.Entries == nil || got.Version != version {
		return st, s.fail("read", StateFile, errCorrupt)
	}
	return got, nil
}

// readLegacy checks a file of the legacy version: nil when no record in
// it holds a backoff any more (it then reads as empty), an error naming
// the latest RetryAt otherwise.
func (s *Store) readLegacy(data []byte) error {
	var old struct {
		Entries map[string]struct {
			RetryAt time.Time `json:"retryAt"`
		} `json:"entries"`
	}
	if json.Unmarshal(data, &old) != nil || old.Entries == nil {
		return s.fail("read", StateFile, errCorrupt)
	}
	var last time.Time
	for _, r := range old.Entries {
		if r.RetryAt.After(last) {
			last = r.RetryAt
		}
	}
	if time.Now().Before(last) {
		return s.fail("read", StateFile, fmt.Errorf("%w until %s (its records name profiles, not accounts)",
			errLegacyActive, last.UTC().Format(time.RFC3339)))
	}
	return nil
}

// write prunes stale records and replaces the file atomically, 0600.
func (s *Store) write(st state) error {
	cutoff := time.Now().Add(-Retention)
	for k, r := range st.Entries {
		if stale(r, cutoff) {
			delete(st.Entries, k)
		}
	}
	st.Version = version
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("could not encode the lockout guard: %w", err)
	}
	if err := s.fs.WriteFile(StateFile, append(data, '\n')); err != nil {
		return s.fail("write", StateFile, err)
	}
	return nil
}

func stale(r record, cutoff time.Time) bool {
	last := r.RetryAt
	if r.ServerRetryAt.After(last) {
		last = r.ServerRetryAt
	}
	for _, t := range append(r.Attempts, r.Pending) {
		if t.After(last) {
			last = t
		}
	}
	return last.Before(cutoff)
}

// key returns the HMAC key, creating it once when create is set (the
// caller holds the state lock). A key of the wrong size is an error: the
// records made with it could no longer be matched.
func (s *Store) key(create bool) ([]byte, error) {
	k, err := s.fs.ReadFile(KeyFile)
	switch {
	case err == nil && len(k) == keySize:
		return k, nil
	case err == nil:
		return nil, s.fail("read", KeyFile, fmt.Errorf("the key has the wrong size: %w", errCorrupt))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, s.fail("read", KeyFile, err)
	case !create:
		return nil, nil
	}
	k = make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("could not create the lockout guard key: %w", err)
	}
	if err := s.fs.WriteFile(KeyFile, k); err != nil {
		return nil, s.fail("write", KeyFile, err)
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
	return err == nil && recorded != "" && !cred.IsZero() && hmac.Equal(want, mac(k, cred))
}
