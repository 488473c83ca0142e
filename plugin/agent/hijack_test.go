package agent_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// snapshot describes every file under root: type, mode, owner, size and a
// hash of the content (symlinks: their target), so a test can prove that
// nothing there was created, replaced or written.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.Size())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, d := range after {
		if before[p] != d {
			t.Errorf("%s: %s was created or changed: %q -> %q", what, p, before[p], d)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: %s was removed", what, p)
		}
	}
}

// stateNames are the names of every state file the agent and the guard
// keep in the runtime directory for the agent p.
func stateNames(p paths.Agent) []string {
	names := []string{guardfile.StateFile, guardfile.KeyFile, guardfile.LockFile, paths.KeyFile}
	for _, f := range []string{p.Socket, p.Run, p.Spawn, p.Log, p.Names} {
		names = append(names, filepath.Base(f))
	}
	return names
}

// useEveryStateFile does what an agent and its guard do with their files:
// bind the socket, take the run and spawn locks, open the log, create the
// key, write the names file, save and load a lockout record. It returns
// the errors: a refusal is fine, writing through a link is not.
func useEveryStateFile(d *paths.Dir, p paths.Agent) []error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var errs []error
	if s, err := agent.Listen(ctx, p, nil); err == nil {
		errs = append(errs, s.Close())
	} else {
		errs = append(errs, err)
	}
	if l, err := d.TryLock(filepath.Base(p.Spawn)); err == nil {
		errs = append(errs, l.Unlock())
	} else {
		errs = append(errs, err)
	}
	if f, err := p.OpenLog(); err == nil {
		_, err = f.WriteString("log line\n")
		errs = append(errs, err, f.Close())
	} else {
		errs = append(errs, err)
	}
	_, err := paths.TagOf(d, []string{"PW"}, func(string) (string, bool) { return "x", true })
	errs = append(errs, err, agent.WriteEnvNames(p, []string{"PW"}))
	store := guardfile.NewIn(d)
	acct := provider.Account{Provider: "vcf", Origin: "https://sddc.test:443", Kind: provider.KindUser, Principal: "alice"}
	cred := secret.New("credential-digest")
	unlock, err := store.LockLogin(ctx, acct)
	errs = append(errs, err)
	if err == nil {
		defer unlock()
	}
	errs = append(errs, store.Update(ctx, acct, cred, func(keeper.GuardRecord) keeper.GuardRecord {
		return keeper.GuardRecord{Credential: cred, Failures: 1, RetryAt: time.Now().Add(time.Minute), Rejected: true}
	}))
	return append(errs, store.Update(ctx, acct, cred, func(r keeper.GuardRecord) keeper.GuardRecord { return r }))
}

// TestStateFilesStayInTheHeldDir is the hijack of issue 10 case 5: the
// owner of the directory above the runtime directory renames the runtime
// directory while an agent runs and puts one in its place full of
// symlinks to files elsewhere; then plants the same links inside the real
// one. Every state file must be created, replaced or refused in the
// directory the agent opened — nothing outside it created or changed.
func TestStateFilesStayInTheHeldDir(t *testing.T) {
	base, err := os.MkdirTemp("", "tkh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	rt, moved, outside := filepath.Join(base, "rt"), filepath.Join(base, "moved"), filepath.Join(base, "outside")
	for _, dir := range []string{rt, outside} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("root-owned file the attacker wants replaced\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := paths.OpenDir(rt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, err := paths.Locate(d, "/c.yaml", "00112233aabbccdd")
	if err != nil {
		t.Fatal(err)
	}
	// Half the links point at an existing file (a write through them
	// would change it), half nowhere (a create through them would make a
	// file outside).
	plant := func(dir string) {
		for i, n := range stateNames(p) {
			target := victim
			if i%2 == 1 {
				target = filepath.Join(outside, n+".created")
			}
			_ = os.Remove(filepath.Join(dir, n))
			if err := os.Symlink(target, filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The directory is renamed and replaced by one of links.
	if err := os.Rename(rt, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	plant(rt)
	before := snapshot(t, outside)
	planted := snapshot(t, rt)
	for _, err := range useEveryStateFile(d, p) {
		if err != nil {
			t.Errorf("in the renamed directory: %v", err)
		}
	}
	sameSnapshot(t, "outside the runtime dir", before, snapshot(t, outside))
	sameSnapshot(t, "the planted directory", planted, snapshot(t, rt))
	for _, n := range []string{guardfile.StateFile, guardfile.KeyFile, paths.KeyFile, filepath.Base(p.Log), filepath.Base(p.Names)} {
		if fi, err := os.Lstat(filepath.Join(moved, n)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s not written in the directory the agent holds: %v", n, err)
		}
	}

	// Links planted inside the held directory itself: replaced or refused.
	plant(moved)
	_ = useEveryStateFile(d, p) // a refusal is fine; only what happened outside counts
	sameSnapshot(t, "outside the runtime dir, links inside", before, snapshot(t, outside))
}

// TestForeignRuntimeDirRefused: root whose XDG_RUNTIME_DIR is another
// user's (after `su` without `-`) refuses it — whatever that user put
// there — and creates nothing in it or where its links point.
func TestForeignRuntimeDirRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the directory must belong to a second uid (65534)")
	}
	base, err := os.MkdirTemp("", "tkf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "victim"), []byte("victim\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(xdg string) error{
		"empty":                     func(string) error { return nil },
		"leaf is a link elsewhere":  func(xdg string) error { return os.Symlink(outside, filepath.Join(xdg, "tokenkeeper")) },
		"leaf of links to a victim": plantLeafOfLinks(filepath.Join(outside, "victim")),
	}
	for name, setup := range tests {
		t.Run(name, func(t *testing.T) {
			xdg := filepath.Join(base, strings.ReplaceAll(name, " ", "-"))
			if err := os.Mkdir(xdg, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := errors.Join(setup(xdg), chownTree(xdg, 65534)); err != nil {
				t.Fatal(err)
			}
			before, beforeXDG := snapshot(t, outside), snapshot(t, xdg)
			getenv := func(k string) string { return map[string]string{"XDG_RUNTIME_DIR": xdg, "HOME": "/root"}[k] }
			d, err := paths.OpenRuntimeDir(getenv)
			if err == nil {
				_ = d.Close()
				t.Fatalf("another user's XDG_RUNTIME_DIR %s was accepted", xdg)
			}
			if !errors.Is(err, paths.ErrInsecureDir) || !strings.Contains(err.Error(), "su -") {
				t.Fatalf("err = %v, want paths.ErrInsecureDir naming the fix", err)
			}
			sameSnapshot(t, "outside", before, snapshot(t, outside))
			sameSnapshot(t, "the foreign XDG_RUNTIME_DIR", beforeXDG, snapshot(t, xdg))
		})
	}
}

func plantLeafOfLinks(victim string) func(xdg string) error {
	return func(xdg string) error {
		leaf := filepath.Join(xdg, "tokenkeeper")
		if err := os.Mkdir(leaf, 0o700); err != nil {
			return err
		}
		for _, n := range []string{guardfile.StateFile, guardfile.KeyFile, guardfile.LockFile, paths.KeyFile} {
			if err := os.Symlink(victim, filepath.Join(leaf, n)); err != nil {
				return err
			}
		}
		return nil
	}
}

func chownTree(root string, uid int) error {
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
}
