package guardfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func clock(t *time.Time) func() time.Time { return func() time.Time { return *t } }

// cred is what a provider's Credential returns: SHA-256 hex of the login
// material.
func cred(user, pw string) secret.Secret {
	sum := sha256.Sum256([]byte(user + "\x00" + pw))
	return secret.New(hex.EncodeToString(sum[:]))
}

func rejection(c secret.Secret, n int, retryAt time.Time) keeper.GuardState {
	return keeper.GuardState{Credential: c, Rejections: n, RetryAt: retryAt,
		LastError: "login: POST /v1/tokens: HTTP 401 (credentials rejected)"}
}

func mustSave(t *testing.T, s *Store, key string, gs keeper.GuardState) {
	t.Helper()
	if err := s.Save(context.Background(), key, gs); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func mustLoad(t *testing.T, s *Store, key string, c secret.Secret) (keeper.GuardState, bool) {
	t.Helper()
	gs, ok, err := s.Load(context.Background(), key, c)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return gs, ok
}

func TestRoundTrip(t *testing.T) {
	now := t0
	dir := t.TempDir()
	s := New(dir, clock(&now))
	wrong, other := cred("alice", "wrong"), cred("alice", "other")
	if _, ok := mustLoad(t, s, "p", wrong); ok {
		t.Fatal("an empty store holds a record")
	}
	mustSave(t, s, "p", rejection(wrong, 2, t0.Add(2*time.Minute)))

	// Another process: a new Store on the same directory.
	s2 := New(dir, clock(&now))
	gs, ok := mustLoad(t, s2, "p", wrong)
	if !ok || !gs.Credential.Equal(wrong) || gs.Rejections != 2 || !gs.RetryAt.Equal(t0.Add(2*time.Minute)) ||
		!strings.Contains(gs.LastError, "credentials rejected") {
		t.Fatalf("Load = %+v, %v", gs, ok)
	}
	gs, ok = mustLoad(t, s2, "p", other)
	if !ok || !gs.Credential.IsZero() || gs.Rejections != 2 {
		t.Fatalf("Load with another credential = %+v, %v; want the record without a credential match", gs, ok)
	}
	if _, ok := mustLoad(t, s2, "q", wrong); ok {
		t.Fatal("another key holds a record")
	}
	if err := s2.Clear(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustLoad(t, s, "p", wrong); ok {
		t.Fatal("Clear left the record")
	}
}

// Clear of an absent key writes nothing: every successful login calls it
// only when a record existed, but it must stay cheap anyway.
func TestClearAbsentWritesNothing(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, nil)
	if err := s.Clear(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Fatalf("Clear created the state file: %v", err)
	}
}

func TestPermissions(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, nil)
	mustSave(t, s, "p", rejection(cred("alice", "wrong"), 1, time.Now().Add(time.Minute)))
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

// The key is made once and kept: records of earlier writes keep matching.
func TestKeyReuse(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, nil)
	a, b := cred("alice", "wrong"), cred("bob", "wrong")
	mustSave(t, s, "a", rejection(a, 1, time.Now().Add(time.Minute)))
	key1, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil || len(key1) != keySize {
		t.Fatalf("key file: %d bytes, %v", len(key1), err)
	}
	mustSave(t, New(dir, nil), "b", rejection(b, 1, time.Now().Add(time.Minute)))
	key2, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if !bytes.Equal(key1, key2) {
		t.Fatal("a second write replaced the key")
	}
	if gs, _ := mustLoad(t, s, "a", a); !gs.Credential.Equal(a) {
		t.Fatal("the first record no longer matches")
	}
	// A damaged key is replaced; old records stop matching (one more try).
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if gs, ok := mustLoad(t, s, "a", a); !ok || !gs.Credential.IsZero() {
		t.Fatalf("a record under a damaged key matched: %+v", gs)
	}
	mustSave(t, s, "b", rejection(b, 2, time.Now().Add(time.Minute)))
	if gs, _ := mustLoad(t, s, "b", b); !gs.Credential.Equal(b) {
		t.Fatal("a record made after replacing the key does not match")
	}
}

// The file holds neither the credential nor a plain hash of it: only an
// HMAC under a key kept in another file.
func TestNoRawCredentialInFile(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, nil)
	const pw = "Winter2026!"
	material := "alice\x00" + pw
	c := cred("alice", pw)
	mustSave(t, s, "p", rejection(c, 1, time.Now().Add(time.Minute)))
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(c.Reveal()))
	forbidden := []string{pw, material, c.Reveal(), c.Reveal()[:16], secret.New(material).Fingerprint(),
		hex.EncodeToString(sum[:]), hex.EncodeToString(sum[:8])}
	for i, f := range forbidden {
		if bytes.Contains(data, []byte(f)) {
			t.Errorf("the state file holds form %d of the credential", i)
		}
	}
	if !bytes.Contains(data, []byte(`"credential"`)) {
		t.Fatal("the state file has no credential field; the test proves nothing")
	}
}

func TestCorruptFileIsEmptyAndRewritten(t *testing.T) {
	for name, content := range map[string]string{
		"garbage": "\x00\x01not json", "truncated": `{"version":1,"entries":{"p":{"cred`,
		"wrong shape": `[1,2,3]`, "null entries": `{"version":1,"entries":null}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := New(dir, nil)
			if err := os.WriteFile(s.Path(), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			c := cred("alice", "wrong")
			if _, ok := mustLoad(t, s, "p", c); ok {
				t.Fatal("a corrupt file holds a record")
			}
			mustSave(t, s, "p", rejection(c, 1, time.Now().Add(time.Minute)))
			if gs, ok := mustLoad(t, s, "p", c); !ok || !gs.Credential.Equal(c) {
				t.Fatalf("after rewrite: %+v, %v", gs, ok)
			}
		})
	}
	t.Run("clear rewrites", func(t *testing.T) {
		s := New(t.TempDir(), nil)
		if err := os.WriteFile(s.Path(), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.Clear(context.Background(), "p"); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(s.Path()); !bytes.Contains(data, []byte(`"entries": {}`)) {
			t.Fatalf("Clear left %q", data)
		}
	})
}

func TestExpiredRecordsArePruned(t *testing.T) {
	now := t0
	s := New(t.TempDir(), clock(&now))
	a, b := cred("alice", "wrong"), cred("bob", "wrong")
	mustSave(t, s, "a", rejection(a, 1, t0.Add(time.Minute)))
	now = t0.Add(time.Minute + Retention - time.Second)
	mustSave(t, s, "b", rejection(b, 1, now.Add(time.Minute)))
	if _, ok := mustLoad(t, s, "a", a); !ok {
		t.Fatal("a record within its retention was pruned (the backoff would restart)")
	}
	now = now.Add(2 * time.Second)
	mustSave(t, s, "b", rejection(b, 2, now.Add(2*time.Minute)))
	if _, ok := mustLoad(t, s, "a", a); ok {
		t.Fatal("an expired record survived a write")
	}
	if _, ok := mustLoad(t, s, "b", b); !ok {
		t.Fatal("the written record is gone")
	}
}

func TestLoadHonoursContext(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, nil)
	held, err := s.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := s.Load(ctx, "p", cred("alice", "x")); err == nil {
		t.Fatal("Load succeeded while another holder had the lock")
	}
}

// The login lock of a key excludes other holders of that key, in other
// Stores (processes) too, but not of other keys.
func TestLockLogin(t *testing.T) {
	dir := t.TempDir()
	a, b := New(dir, nil), New(dir, nil)
	unlock, err := a.LockLogin(context.Background(), "p")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.LockLogin(ctx, "p"); err == nil {
		t.Fatal("a second holder got the login lock of p")
	}
	other, err := b.LockLogin(context.Background(), "q")
	if err != nil {
		t.Fatalf("the lock of p blocks q: %v", err)
	}
	other()
	// Store operations do not wait for a login in progress.
	mustSave(t, b, "p", rejection(cred("alice", "wrong"), 1, time.Now().Add(time.Minute)))
	unlock()
	again, err := b.LockLogin(context.Background(), "p")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}

// writers saves n records, each under its own key, from a store of its
// own (the way separate processes do).
func writers(t *testing.T, dir, prefix string, n int) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("%s-%d", prefix, i)
			gs := rejection(cred(key, "wrong"), 1, time.Now().Add(time.Hour))
			if err := New(dir, nil).Save(context.Background(), key, gs); err != nil {
				t.Errorf("Save %s: %v", key, err)
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
	s := New(dir, nil)
	check := func(key string) {
		if gs, ok := mustLoad(t, s, key, cred(key, "wrong")); !ok || !gs.Credential.Equal(cred(key, "wrong")) {
			t.Errorf("record %s: found=%v match=%v", key, ok, gs.Credential.Equal(cred(key, "wrong")))
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
