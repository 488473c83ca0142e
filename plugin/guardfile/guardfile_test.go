package guardfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// cred is what a provider's Credential returns: SHA-256 hex of the login
// material.
func cred(user, pw string) secret.Secret {
	sum := sha256.Sum256([]byte(user + "\x00" + pw))
	return secret.New(hex.EncodeToString(sum[:]))
}

func user(name string) provider.Account {
	return provider.Account{Provider: "vcf", Origin: "https://sddc.test:443", Kind: provider.KindUser, Principal: name}
}

func rejection(c secret.Secret, n int, retryAt time.Time) keeper.GuardRecord {
	return keeper.GuardRecord{Credential: c, Failures: n, RetryAt: retryAt, Rejected: true,
		Outcome: "rejected: HTTP 401", Attempts: []time.Time{retryAt.Add(-time.Minute)}}
}

func mustSave(t *testing.T, s *Store, a provider.Account, r keeper.GuardRecord) {
	t.Helper()
	if err := s.Update(context.Background(), a, r.Credential, func(keeper.GuardRecord) keeper.GuardRecord { return r }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustLoad(t *testing.T, s *Store, a provider.Account, c secret.Secret) keeper.GuardRecord {
	t.Helper()
	var got keeper.GuardRecord
	if err := s.Update(context.Background(), a, c, func(r keeper.GuardRecord) keeper.GuardRecord { got = r; return r }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	return got
}

// The bubble's clock keeps the records within their retention.
func TestRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		dir := t.TempDir()
		s := New(dir)
		wrong, other := cred("alice", "wrong"), cred("alice", "other")
		if r := mustLoad(t, s, user("alice"), wrong); !r.IsZero() {
			t.Fatal("an empty store holds a record")
		}
		if _, err := os.Stat(s.Path()); err == nil {
			t.Fatal("reading an empty store wrote a file")
		}
		mustSave(t, s, user("alice"), rejection(wrong, 2, t0.Add(2*time.Minute)))

		// Another process: a new Store on the same directory.
		s2 := New(dir)
		r := mustLoad(t, s2, user("alice"), wrong)
		if !r.Credential.Equal(wrong) || r.Failures != 2 || !r.RetryAt.Equal(t0.Add(2*time.Minute)) ||
			!r.Rejected || r.Outcome != "rejected: HTTP 401" || len(r.Attempts) != 1 {
			t.Fatalf("read back %+v", r)
		}
		if r := mustLoad(t, s2, user("alice"), other); !r.Credential.IsZero() || r.Failures != 2 {
			t.Fatalf("with another credential: %+v; want the record without a credential match", r)
		}
		if r := mustLoad(t, s2, user("bob"), wrong); !r.IsZero() {
			t.Fatal("another account holds a record")
		}
		// A zero result deletes the record.
		if err := s2.Update(context.Background(), user("alice"), wrong, func(keeper.GuardRecord) keeper.GuardRecord {
			return keeper.GuardRecord{}
		}); err != nil {
			t.Fatal(err)
		}
		if r := mustLoad(t, s, user("alice"), wrong); !r.IsZero() {
			t.Fatalf("after delete: %+v", r)
		}
	})
}

func TestPermissions(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	mustSave(t, s, user("alice"), rejection(cred("alice", "wrong"), 1, time.Now().Add(time.Minute)))
	for _, name := range []string{StateFile, KeyFile, LockFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, perm)
		}
	}
}

// The key is made once and kept; a damaged key fails closed until
// ResetAll starts over.
func TestKey(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	a := cred("alice", "wrong")
	mustSave(t, s, user("alice"), rejection(a, 1, time.Now().Add(time.Minute)))
	key1, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil || len(key1) != keySize {
		t.Fatalf("key file: %d bytes, %v", len(key1), err)
	}
	mustSave(t, New(dir), user("bob"), rejection(cred("bob", "x"), 1, time.Now().Add(time.Minute)))
	if key2, _ := os.ReadFile(filepath.Join(dir, KeyFile)); !bytes.Equal(key1, key2) {
		t.Fatal("a second write replaced the key")
	}
	if r := mustLoad(t, s, user("alice"), a); !r.Credential.Equal(a) {
		t.Fatal("the first record no longer matches")
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = s.Update(context.Background(), user("alice"), a, func(r keeper.GuardRecord) keeper.GuardRecord { return r })
	var ge *Error
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "guard reset --all") {
		t.Fatalf("Update with a damaged key: %v, want an Error naming the fix", err)
	}
	if _, err := s.ResetAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := mustLoad(t, s, user("alice"), a); r.Failures != 0 || !r.Credential.IsZero() || len(r.Failed) != 0 {
		t.Fatalf("after ResetAll: %+v, want no backoff", r)
	}
}

// The file holds neither the credential nor a plain hash of it, nor the
// material of a keyed principal: only HMACs under a key kept in another
// file, and no upstream text.
func TestNoRawCredentialInFile(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	const pw, token = "Winter2026!", "api-token-7Yq2"
	material := "alice\x00" + pw
	c := cred("alice", pw)
	mustSave(t, s, user("alice"), rejection(c, 1, time.Now().Add(time.Minute)))
	tc := cred("", token)
	keyed := provider.Account{Provider: "vcd", Origin: "https://vcd.test:443", Kind: provider.KindAPIToken, Material: tc}
	mustSave(t, s, keyed, rejection(tc, 1, time.Now().Add(time.Minute)))
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(c.Reveal()))
	forbidden := []string{pw, material, c.Reveal(), c.Reveal()[:16], secret.New(material).Fingerprint(),
		hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:8]), token, tc.Reveal()[:16], tc.Fingerprint()}
	for i, f := range forbidden {
		if bytes.Contains(data, []byte(f)) {
			t.Errorf("the state file holds form %d of a secret", i)
		}
	}
	if !bytes.Contains(data, []byte(`"credentials"`)) || !bytes.Contains(data, []byte(`"principal": "api-token `)) {
		t.Fatalf("the state file lacks the fields the test looks at; it proves nothing:\n%s", data)
	}
}

// Fail closed: a file that cannot be parsed or used is an error naming
// the path and the fix, never an empty store.
func TestBrokenStoreFailsClosed(t *testing.T) {
	tests := map[string]func(dir string) error{
		"garbage": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, StateFile), []byte("\x00not json"), 0o600)
		},
		"truncated": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version":2,"entries":{"p":{"cred`), 0o600)
		},
		"null entries": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version":2,"entries":null}`), 0o600)
		},
		"json is a dir":      func(dir string) error { return os.Mkdir(filepath.Join(dir, StateFile), 0o700) },
		"lock is a dir":      func(dir string) error { return os.Mkdir(filepath.Join(dir, LockFile), 0o700) },
		"no such dir":        func(dir string) error { return os.Remove(dir) },
		"empty object":       writeState(`{}`),
		"null":               writeState(`null`),
		"version 0":          writeState(`{"version":0}`),
		"no entries":         writeState(`{"version":2}`),
		"legacy, no entries": writeState(`{"version":1}`),
		"legacy backoff running": func(dir string) error {
			return writeState(`{"version":1,"entries":{"vcf https://x p":{"credential":"00","rejections":2,"retryAt":"` +
				time.Now().Add(10*time.Minute).UTC().Format(time.RFC3339) + `"}}}`)(dir)
		},
		"future version": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version":9,"entries":{}}`), 0o600)
		},
	}
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := breakIt(dir); err != nil {
				t.Fatal(err)
			}
			s := New(dir)
			called := false
			err := s.Update(context.Background(), user("alice"), cred("alice", "x"), func(r keeper.GuardRecord) keeper.GuardRecord {
				called = true
				return r
			})
			var ge *Error
			if !errors.As(err, &ge) || called || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Update: %v (f called: %v), want an Error naming a path in %s", err, called, dir)
			}
			if ge.Fix == "" {
				t.Fatal("no fix")
			}
		})
	}
}

// writeState returns a breakIt that writes data as the state file.
func writeState(data string) func(dir string) error {
	return func(dir string) error { return os.WriteFile(filepath.Join(dir, StateFile), []byte(data), 0o600) }
}

// A file of the legacy version whose records all hold no backoff any
// more (records per profile) reads as empty; one still running fails
// closed until ResetAll.
func TestLegacyBackoffFailsClosedUntilResetAll(t *testing.T) {
	dir := t.TempDir()
	retry := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	if err := writeState(`{"version":1,"entries":{"vcf https://x p":{"credential":"00","rejections":2,"retryAt":"` + retry + `"}}}`)(dir); err != nil {
		t.Fatal(err)
	}
	s := New(dir)
	err := s.Update(context.Background(), user("alice"), cred("alice", "x"), func(r keeper.GuardRecord) keeper.GuardRecord { return r })
	if err == nil || !strings.Contains(err.Error(), retry) || !strings.Contains(err.Error(), "guard reset --all") {
		t.Fatalf("Update: %v, want it refused until %s, naming the reset", err, retry)
	}
	if _, err := s.ResetAll(context.Background()); err != nil {
		t.Fatalf("ResetAll: %v", err)
	}
	if r := mustLoad(t, s, user("alice"), cred("alice", "x")); !r.IsZero() {
		t.Fatalf("after ResetAll: %+v", r)
	}
}

// A file of the previous version (records per profile) reads as empty.
func TestOldVersionIsReplaced(t *testing.T) {
	dir := t.TempDir()
	old := `{"version":1,"entries":{"vcf https://x p":{"credential":"00","rejections":1}}}`
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New(dir)
	if r := mustLoad(t, s, user("alice"), cred("alice", "x")); !r.IsZero() {
		t.Fatalf("%+v", r)
	}
	mustSave(t, s, user("alice"), rejection(cred("alice", "x"), 1, time.Now().Add(time.Minute)))
	if data, _ := os.ReadFile(s.Path()); bytes.Contains(data, []byte("vcf https://x p")) {
		t.Fatal("the old record survived a write")
	}
}

func TestExpiredRecordsArePruned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := New(t.TempDir())
		a, b := cred("alice", "wrong"), cred("bob", "wrong")
		mustSave(t, s, user("alice"), rejection(a, 1, t0.Add(time.Minute)))
		time.Sleep(time.Minute + Retention - time.Second)
		now := time.Now()
		mustSave(t, s, user("bob"), rejection(b, 1, now.Add(time.Minute)))
		if r := mustLoad(t, s, user("alice"), a); r.IsZero() {
			t.Fatal("a record within its retention was pruned (the backoff would restart)")
		}
		time.Sleep(2 * time.Second)
		now = time.Now()
		mustSave(t, s, user("bob"), rejection(b, 2, now.Add(2*time.Minute)))
		if r := mustLoad(t, s, user("alice"), a); !r.IsZero() {
			t.Fatal("an expired record survived a write")
		}
	})
}

// List and Reset: what `tokenkeeper guard status|reset` shows and does.
func TestListAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := New(t.TempDir())
		mustSave(t, s, user("alice"), rejection(cred("alice", "x"), 1, t0.Add(time.Minute)))
		mustSave(t, s, user("bob"), rejection(cred("bob", "x"), 3, t0.Add(4*time.Minute)))
		es, err := s.List(context.Background())
		if err != nil || len(es) != 2 || es[0].Principal != "alice" || es[0].Recent != 1 || es[1].Failures != 3 {
			t.Fatalf("List: %+v, %v", es, err)
		}
		if found, err := s.Reset(context.Background(), user("alice")); !found || err != nil {
			t.Fatalf("Reset: %v, %v", found, err)
		}
		// The ceiling's attempts outlive a reset: 2 attempts, reset, 2 more
		// would otherwise reach SSO's 5 in 180 s.
		if r := mustLoad(t, s, user("alice"), cred("alice", "x")); r.Failures != 0 || !r.Credential.IsZero() ||
			!r.RetryAt.IsZero() || len(r.Attempts) != 1 {
			t.Fatalf("after Reset: %+v, want the backoff gone and the recent attempt kept", r)
		}
		time.Sleep(time.Until(t0.Add(keeper.CeilingWindow)))
		if found, _ := s.Reset(context.Background(), user("alice")); !found {
			t.Fatal("the record of the kept attempt is gone")
		}
		if found, _ := s.Reset(context.Background(), user("alice")); found {
			t.Fatal("reset twice after the window")
		}
		if r := mustLoad(t, s, user("bob"), cred("bob", "x")); r.Failures != 3 {
			t.Fatal("resetting alice touched bob")
		}
		if n, err := s.ResetAll(context.Background()); n != 1 || err != nil {
			t.Fatalf("ResetAll: %d, %v", n, err)
		}
	})
}

func TestUpdateHonoursContext(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	held, err := s.fs.Lock(context.Background(), LockFile)
	if err != nil {
		t.Fatal(err)
	}
	defer held()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.List(ctx); err == nil {
		t.Fatal("List succeeded while another holder had the lock")
	}
}

// The login lock of an account excludes other holders of it, in other
// Stores (processes) too, but not of other accounts.
func TestLockLogin(t *testing.T) {
	dir := t.TempDir()
	a, b := New(dir), New(dir)
	unlock, err := a.LockLogin(context.Background(), user("alice"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.LockLogin(ctx, user("alice")); err == nil {
		t.Fatal("a second holder got the login lock of alice")
	}
	other, err := b.LockLogin(context.Background(), user("bob"))
	if err != nil {
		t.Fatalf("the lock of alice blocks bob: %v", err)
	}
	other()
	// Store operations do not wait for a login in progress.
	mustSave(t, b, user("alice"), rejection(cred("alice", "wrong"), 1, time.Now().Add(time.Minute)))
	unlock()
	again, err := b.LockLogin(context.Background(), user("alice"))
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}

// writers saves n records, each under its own account, from a store of
// its own (the way separate processes do).
func writers(t *testing.T, dir, prefix string, n int) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("%s-%d", prefix, i)
			r := rejection(cred(name, "wrong"), 1, time.Now().Add(time.Hour))
			if err := New(dir).Update(context.Background(), user(name), r.Credential,
				func(keeper.GuardRecord) keeper.GuardRecord { return r }); err != nil {
				t.Errorf("Update %s: %v", name, err)
			}
		})
	}
	wg.Wait()
}

// Concurrent read-modify-writes from goroutines and processes lose no
// record, and the HMAC key is created exactly once (every record matches).
func TestConcurrentWriters(t *testing.T) {
	if dir := os.Getenv("GUARDFILE_TEST_DIR"); dir != "" {
		n, _ := strconv.Atoi(os.Getenv("GUARDFILE_TEST_N"))
		writers(t, dir, os.Getenv("GUARDFILE_TEST_PREFIX"), n)
		return
	}
	const procs, perProc, goroutines = 3, 10, 10
	dir := t.TempDir()
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentWriters$", "-test.count=1")
			cmd.Env = append(os.Environ(), "GUARDFILE_TEST_DIR="+dir,
				fmt.Sprintf("GUARDFILE_TEST_PREFIX=proc%d", p), fmt.Sprintf("GUARDFILE_TEST_N=%d", perProc))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child %d: %v\n%s", p, err, out)
			}
		})
	}
	writers(t, dir, "local", goroutines)
	wg.Wait()
	s := New(dir)
	check := func(name string) {
		if r := mustLoad(t, s, user(name), cred(name, "wrong")); !r.Credential.Equal(cred(name, "wrong")) {
			t.Errorf("record %s: %+v", name, r)
		}
	}
	for p := range procs {
		for i := range perProc {
			check(fmt.Sprintf("proc%d-%d", p, i))
		}
	}
	for i := range goroutines {
		check(fmt.Sprintf("local-%d", i))
	}
}

// Every credential that failed since the last success is recognised, not
// only the last one; a success (Failed cleared) forgets them all. The
// server's Retry-After survives the round trip.
func TestFailedCredentialsKept(t *testing.T) {
	s := New(t.TempDir())
	a, b, c := cred("alice", "one"), cred("alice", "two"), cred("alice", "three")
	retry := time.Now().Add(time.Minute).UTC().Round(0)
	fail := func(k secret.Secret) {
		t.Helper()
		err := s.Update(context.Background(), user("alice"), k, func(r keeper.GuardRecord) keeper.GuardRecord {
			r.Credential, r.Failures, r.RetryAt, r.ServerRetryAt = k, r.Failures+1, retry, retry
			return r
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	fail(a)
	fail(b)
	for _, k := range []secret.Secret{a, b} {
		if r := mustLoad(t, s, user("alice"), k); !r.Credential.Equal(k) || r.Failures != 2 || !r.ServerRetryAt.Equal(retry) {
			t.Fatalf("a failed credential reads as %+v, want it recognised", r)
		}
	}
	if r := mustLoad(t, s, user("alice"), c); !r.Credential.IsZero() || len(r.Failed) != 2 {
		t.Fatalf("a new credential reads as %+v, want it unknown among 2", r)
	}
	err := s.Update(context.Background(), user("alice"), c, func(r keeper.GuardRecord) keeper.GuardRecord {
		r.Failed, r.Failures, r.Attempts = nil, 0, []time.Time{time.Now()}
		return r
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := mustLoad(t, s, user("alice"), a); !r.Credential.IsZero() || len(r.Failed) != 0 {
		t.Fatalf("after a success: %+v, want the failed credentials forgotten", r)
	}
}

// A store whose files the local commands cannot reach (the Vault
// engine's storage) names its own way out of a corrupt file, not
// `tokenkeeper guard reset --all`; a local store still names that.
func TestRemedyOfCorruptFile(t *testing.T) {
	const engineReset = "delete the engine's entry guard/guard.json"
	tests := []struct {
		name    string
		store   func(dir string) *Store
		want    string
		wantNot string
	}{
		{"local", New, "tokenkeeper guard reset --all", engineReset},
		{"engine", func(dir string) *Store { return NewFSRemedy(DirFS(dir), Remedy{Reset: engineReset}) }, engineReset, "guard reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeState("not json")(dir); err != nil {
				t.Fatal(err)
			}
			err := tt.store(dir).Update(context.Background(), user("alice"), cred("alice", "x"), func(r keeper.GuardRecord) keeper.GuardRecord { return r })
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("Update: %v, want an Error", err)
			}
			if !strings.Contains(ge.Fix, tt.want) || strings.Contains(ge.Fix, tt.wantNot) {
				t.Fatalf("fix %q: want %q and not %q", ge.Fix, tt.want, tt.wantNot)
			}
		})
	}
}
