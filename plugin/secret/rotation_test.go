package secret

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rotationFixture is a service-account-like file holding old in a
// private directory.
func rotationFixture(t *testing.T, old string) (Ref, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "robot")
	if err := os.WriteFile(path, []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Ref{File: path}, path
}

func readValue(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", filepath.Base(path), err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// entries lists dir's names, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestRotationStores(t *testing.T) {
	r, path := rotationFixture(t, "sa-old")
	ctx := context.Background()
	rt, err := r.BeginRotation(ctx, RotationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rt.Value().Reveal() != "sa-old" {
		t.Fatal("Value is not what the file holds")
	}
	// The preflight's temporary file exists, fsynced, before the exchange.
	var tmp string
	for _, n := range entries(t, filepath.Dir(path)) {
		if strings.HasPrefix(n, ".robot.tmp-") {
			tmp = n
		}
	}
	if tmp == "" {
		t.Fatalf("no temporary file prepared beside the target: %v", entries(t, filepath.Dir(path)))
	}
	if err := rt.Commit(ctx, New("sa-new")); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if readValue(t, path) != "sa-new" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file not replaced with 0600 (mode %v)", fi.Mode().Perm())
	}
	if got := entries(t, filepath.Dir(path)); len(got) != 2 { // robot and .robot.lock
		t.Fatalf("left behind: %v", got)
	}
}

// TestRotationLockExcludes: a second rotation of the same file waits for
// the first and gives up with ErrBusy at its deadline, even in one process.
func TestRotationLockExcludes(t *testing.T) {
	r, _ := rotationFixture(t, "sa-old")
	first, err := r.BeginRotation(context.Background(), RotationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := r.BeginRotation(ctx, RotationOptions{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second rotation while the first holds the lock: %v, want ErrBusy", err)
	}
	if err := first.Commit(context.Background(), New("sa-new")); err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	second, err := r.BeginRotation(context.Background(), RotationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if second.Value().Reveal() != "sa-new" {
		t.Fatal("the second rotation did not read what the first stored")
	}
}

// TestRotationRescue: a file that cannot be replaced after the exchange
// (here: a directory took its place) gets a 0600 recovery file holding
// the rotated value; later rotations refuse to spend the dead token until
// it is restored, except for the process that holds it, which stores it.
func TestRotationRescue(t *testing.T) {
	r, path := rotationFixture(t, "sa-old")
	ctx := context.Background()
	rt, err := r.BeginRotation(ctx, RotationOptions{RetryFor: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Make the rename fail: a non-empty directory where the file was.
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	err = rt.Commit(ctx, New("sa-new"))
	_ = rt.Close()
	var ns *NotStoredError
	if !errors.As(err, &ns) || ns.Recovery != RecoveryPath(path) {
		t.Fatalf("Commit: %v, want a NotStoredError naming %s", err, RecoveryPath(path))
	}
	if strings.Contains(err.Error(), "sa-new") || !strings.Contains(err.Error(), "cat ") {
		t.Fatalf("the error leaks the value or gives no restore command: %q", err)
	}
	fi, _ := os.Stat(ns.Recovery)
	if readValue(t, ns.Recovery) != "sa-new" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("recovery file wrong (mode %v)", fi.Mode().Perm())
	}
	// Put the old (dead) file back: nobody may spend it now.
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".moved", path); err != nil {
		t.Fatal(err)
	}
	if _, err := r.BeginRotation(ctx, RotationOptions{}); !errors.Is(err, ErrRecoveryPending) {
		t.Fatalf("rotation with a recovery file waiting: %v, want ErrRecoveryPending", err)
	}
	if err := r.CheckStore(); !errors.Is(err, ErrRecoveryPending) {
		t.Fatalf("CheckStore with a recovery file waiting: %v", err)
	}
	// The holder stores it and the recovery file goes.
	if err := r.StoreHeld(ctx, RotationOptions{Own: New("sa-new"), OwnReplaces: New("sa-old")}); err != nil {
		t.Fatalf("StoreHeld: %v", err)
	}
	if readValue(t, path) != "sa-new" {
		t.Fatal("the held value was not stored")
	}
	if _, err := os.Stat(ns.Recovery); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the recovery file outlived the store")
	}
}

// TestStoreHeldSuperseded: the file was rewritten since the held value
// was rotated (restored by hand and rotated further by another process):
// it is not stored over the newer value, and its recovery file, if one is
// left, blocks exchanges until a person decides.
func TestStoreHeldSuperseded(t *testing.T) {
	r, path := rotationFixture(t, "sa-newer")
	ctx := context.Background()
	o := RotationOptions{Own: New("sa-new"), OwnReplaces: New("sa-old")}
	if err := r.StoreHeld(ctx, o); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("StoreHeld over a newer value: %v, want ErrSuperseded", err)
	}
	if readValue(t, path) != "sa-newer" {
		t.Fatal("a superseded held value was stored over the newer one")
	}
	if err := os.WriteFile(RecoveryPath(path), []byte("sa-new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.BeginRotation(ctx, RotationOptions{}); !errors.Is(err, ErrRecoveryPending) {
		t.Fatalf("with the superseded value's recovery file: %v, want ErrRecoveryPending", err)
	}
	// Not superseded: the file still holds what the held value replaced.
	if err := os.Remove(RecoveryPath(path)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("sa-old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.StoreHeld(ctx, o); err != nil {
		t.Fatalf("StoreHeld: %v", err)
	}
	if readValue(t, path) != "sa-new" {
		t.Fatal("the held value was not stored over the one it replaced")
	}
}

// TestStoreHeldNeverReplacesAnotherRecovery: while a foreign recovery
// file waits, a held value is not stored and does not overwrite it.
func TestStoreHeldNeverReplacesAnotherRecovery(t *testing.T) {
	r, path := rotationFixture(t, "sa-old")
	fallback := filepath.Join(t.TempDir(), "run")
	if err := os.WriteFile(RecoveryPath(path), []byte("sa-other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := r.StoreHeld(context.Background(), RotationOptions{Own: New("sa-new"), FallbackDir: fallback})
	var ns *NotStoredError
	if !errors.As(err, &ns) || !errors.Is(err, ErrRecoveryPending) || !strings.HasPrefix(ns.Recovery, fallback) {
		t.Fatalf("StoreHeld: %v, want a NotStoredError with its copy in the fallback directory", err)
	}
	if readValue(t, RecoveryPath(path)) != "sa-other" || readValue(t, ns.Recovery) != "sa-new" || readValue(t, path) != "sa-old" {
		t.Fatal("a recovery file or the file was overwritten")
	}
}

// TestRotationRecoveryRestoredByHand: a recovery file whose value the
// file holds again (restored with cat) is removed, not a conflict.
func TestRotationRecoveryRestoredByHand(t *testing.T) {
	r, path := rotationFixture(t, "sa-new")
	if err := os.WriteFile(RecoveryPath(path), []byte("sa-new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rt, err := r.BeginRotation(context.Background(), RotationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = rt.Close()
	if _, err := os.Stat(RecoveryPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a restored recovery file was kept")
	}
}

// TestRotationAdoptsKilledLeftovers: a rotation killed after it wrote the
// rotated token into its temporary file left the only live copy there; the
// next rotation makes it the recovery file (and refuses to spend the dead
// token), and removes bare reservations.
func TestRotationAdoptsKilledLeftovers(t *testing.T) {
	r, path := rotationFixture(t, "sa-old")
	dir := filepath.Dir(path)
	filled := append([]byte("sa-new\n"), make([]byte, reserveBytes-7)...)
	if err := os.WriteFile(filepath.Join(dir, ".robot.tmp-1"), filled, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".robot.tmp-2"), make([]byte, reserveBytes), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.BeginRotation(context.Background(), RotationOptions{}); !errors.Is(err, ErrRecoveryPending) {
		t.Fatalf("BeginRotation after a killed rotation: %v, want ErrRecoveryPending", err)
	}
	if readValue(t, RecoveryPath(path)) != "sa-new" {
		t.Fatal("the killed rotation's token did not become the recovery file")
	}
	if got := entries(t, dir); strings.Join(got, " ") != ".robot.lock robot robot.recovery" {
		t.Fatalf("left behind: %v", got)
	}
}

// TestRotationFallbackDir: with no room next to the file, the recovery
// file goes to the fallback directory.
func TestRotationFallbackDir(t *testing.T) {
	r, path := rotationFixture(t, "sa-old")
	fallback := filepath.Join(t.TempDir(), "run")
	rt := &Rotation{ref: r, real: path, dir: filepath.Dir(path), opts: RotationOptions{FallbackDir: fallback}}
	// The directory refuses new entries, so neither the renamed temporary
	// file nor a new one can be written there: mode 0500, or for root, who
	// ignores modes, the immutable attribute.
	dir := filepath.Dir(path)
	if os.Geteuid() == 0 {
		privileged(t, "chattr", "+i", dir)
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
	} else {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	}
	err := rt.rescue(New("sa-new"), errors.New("EPERM"))
	var ns *NotStoredError
	if !errors.As(err, &ns) || !strings.HasPrefix(ns.Recovery, fallback+string(filepath.Separator)) {
		t.Fatalf("rescue: %v, want a recovery file under the fallback directory", err)
	}
	if readValue(t, ns.Recovery) != "sa-new" {
		t.Fatal("fallback recovery file does not hold the value")
	}
}

// privileged runs a command that needs root (mount, chattr) or skips the
// test with the reason.
func privileged(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Skipf("%s %s is not possible here: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

// assertCannotStore: both the preflight of a rotation and CheckStore
// refuse r with ErrCannotStore and advice, leaving the file alone.
func assertCannotStore(t *testing.T, r Ref, cause, advice string) {
	t.Helper()
	before := readValue(t, r.File)
	_, err := r.BeginRotation(context.Background(), RotationOptions{})
	if !errors.Is(err, ErrCannotStore) || !strings.Contains(err.Error(), cause) || !strings.Contains(err.Error(), advice) {
		t.Fatalf("BeginRotation: %v, want ErrCannotStore naming %q and %q", err, cause, advice)
	}
	if err := r.CheckStore(); !errors.Is(err, ErrCannotStore) || !strings.Contains(err.Error(), advice) {
		t.Fatalf("CheckStore: %v", err)
	}
	if readValue(t, r.File) != before {
		t.Fatal("the file changed")
	}
	for _, n := range entries(t, filepath.Dir(r.File)) {
		if strings.Contains(n, ".tmp-") {
			t.Fatalf("temporary file left behind: %s", n)
		}
	}
}
