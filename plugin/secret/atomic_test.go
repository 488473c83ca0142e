package secret

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	helperEnv    = "TOKENKEEPER_SECRET_HELPER" // mode of the child process
	helperTarget = "TOKENKEEPER_SECRET_TARGET" // file the child writes
	helperSize   = 4 << 20                     // bytes per value: big enough to take time
)

// value returns a distinct, recognisable content of helperSize bytes.
func value(fill byte) []byte { return bytes.Repeat([]byte{fill}, helperSize) }

// TestHelperProcess is not a test: it is the child process the atomicity
// tests start and SIGKILL. It does nothing unless helperEnv is set.
func TestHelperProcess(t *testing.T) {
	target := os.Getenv(helperTarget)
	switch os.Getenv(helperEnv) {
	case "":
		return
	case "block-before-rename":
		w := atomicWriter{beforeRename: func(tmp string) {
			fmt.Printf("ready %s\n", tmp)
			select {} // the parent kills us here
		}}
		_ = w.write(target, value('N'), 0o600)
	case "loop":
		// Alternate values until killed at an arbitrary instant.
		for i := range 1000 {
			if err := WriteFileAtomic(target, value("AB"[i%2]), 0o600); err != nil {
				fmt.Printf("error %v\n", err)
			}
			fmt.Printf("wrote %d\n", i)
		}
	}
	os.Exit(0)
}

// startHelper starts the child in mode on target and returns it with a
// scanner over its stdout.
func startHelper(t *testing.T, mode, target string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperTarget+"="+target)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

// watchFile reads path in a loop until stop is closed and reports every
// content that is neither of the allowed ones.
func watchFile(path string, allowed ...[]byte) (stop func() (reads int, bad []int)) {
	done := make(chan struct{})
	var (
		wg    sync.WaitGroup
		reads int
		bad   []int
	)
	wg.Go(func() {
		for i := 0; i < 1_000_000; i++ {
			select {
			case <-done:
				return
			default:
			}
			b, err := os.ReadFile(path)
			reads++
			if err != nil || !oneOf(b, allowed) {
				bad = append(bad, len(b))
			}
		}
	})
	return func() (int, []int) { close(done); wg.Wait(); return reads, bad }
}

func oneOf(b []byte, allowed [][]byte) bool {
	for _, a := range allowed {
		if bytes.Equal(b, a) {
			return true
		}
	}
	return false
}

// TestWriteFileAtomicSurvivesKillBeforeRename kills the writer after the
// new value is fully written and synced to the temporary file but before
// the rename: the target must still hold the complete old value.
func TestWriteFileAtomicSurvivesKillBeforeRename(t *testing.T) {
	target := filepath.Join(t.TempDir(), "refresh-token")
	old, next := value('O'), value('N')
	if err := WriteFileAtomic(target, old, 0o600); err != nil {
		t.Fatal(err)
	}
	stop := watchFile(target, old, next)
	cmd, out := startHelper(t, "block-before-rename", target)
	if !out.Scan() || !strings.HasPrefix(out.Text(), "ready ") {
		t.Fatalf("child did not reach the rename: %q %v", out.Text(), out.Err())
	}
	tmp := strings.TrimPrefix(out.Text(), "ready ")
	if b, err := os.ReadFile(tmp); err != nil || !bytes.Equal(b, next) {
		t.Fatalf("the temporary file does not hold the whole new value yet (%d bytes, %v)", len(b), err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if b, err := os.ReadFile(target); err != nil || !bytes.Equal(b, old) {
		t.Fatalf("after the kill the target holds %d bytes (%v), want the complete old value", len(b), err)
	}

	// A later write still works and replaces the value.
	if err := WriteFileAtomic(target, next, 0o600); err != nil {
		t.Fatal(err)
	}
	reads, bad := stop()
	if len(bad) > 0 {
		t.Fatalf("%d of %d reads saw a partial or missing file (sizes %v)", len(bad), reads, bad[:min(len(bad), 5)])
	}
	if b, _ := os.ReadFile(target); !bytes.Equal(b, next) {
		t.Fatal("the target does not hold the new value")
	}
}

// TestWriteFileAtomicSurvivesKillAnywhere kills a writer looping over two
// values at whatever instant it happens to be in.
func TestWriteFileAtomicSurvivesKillAnywhere(t *testing.T) {
	target := filepath.Join(t.TempDir(), "refresh-token")
	a, b := value('A'), value('B')
	if err := WriteFileAtomic(target, b, 0o600); err != nil {
		t.Fatal(err)
	}
	stop := watchFile(target, a, b)
	cmd, out := startHelper(t, "loop", target)
	for i := 0; i < 30; i++ {
		if !out.Scan() || !strings.HasPrefix(out.Text(), "wrote ") {
			t.Fatalf("child stopped writing: %q %v", out.Text(), out.Err())
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	reads, bad := stop()
	if len(bad) > 0 {
		t.Fatalf("%d of %d reads saw a partial or missing file (sizes %v)", len(bad), reads, bad[:min(len(bad), 5)])
	}
	if got, err := os.ReadFile(target); err != nil || !oneOf(got, [][]byte{a, b}) {
		t.Fatalf("after the kill the target holds %d bytes (%v), want one complete value", len(got), err)
	}
}

func TestWriteFileAtomicModes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		perm os.FileMode
	}{
		{"0600", 0o600},
		{"0400", 0o400},
		{"0640 when asked", 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			// An existing file with a looser mode is replaced, not reused.
			writeFile(t, dir, tt.name, "old", 0o666)
			if err := WriteFileAtomic(p, []byte(canary), tt.perm); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.perm {
				t.Fatalf("mode %04o, want %04o", fi.Mode().Perm(), tt.perm)
			}
		})
	}
	assertNoTempFiles(t, dir)
}

func TestWriteFileAtomicFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := writeFile(t, dir, "real", "old", 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced by a file (%v)", err)
	}
	if b, _ := os.ReadFile(real); string(b) != "new" {
		t.Fatalf("the link target holds %q, want %q", b, "new")
	}
}

func TestWriteFileAtomicFailureRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	// Renaming a file over a non-empty directory fails after the write.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(target, []byte(canary), 0o600); err == nil {
		t.Fatal("renaming over a non-empty directory succeeded")
	}
	assertNoTempFiles(t, dir)

	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte(canary), 0o600); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	ref := Ref{File: filepath.Join(dir, "sa")}
	for _, v := range []string{canary, canary + "-rotated", "ends with newline\n"} {
		if err := ref.Store(t.Context(), New(v)); err != nil {
			t.Fatal(err)
		}
		got, err := ref.Resolve(t.Context())
		checkErr(t, err, nil)
		if got.Reveal() != v {
			t.Fatal("the stored value does not resolve back to itself")
		}
	}
	checkErr(t, ref.Store(t.Context(), Secret{}), ErrEmpty, "file "+ref.File)
	checkErr(t, Ref{Env: "X"}.Store(t.Context(), New(canary)), ErrInvalidRef, "env X")
	err := Ref{File: filepath.Join(dir, "missing", "sa")}.Store(t.Context(), New(canary))
	if err == nil || !errors.As(err, new(*Error)) {
		t.Fatalf("storing into a missing directory: got %v, want a *secret.Error", err)
	}
	checkErr(t, err, os.ErrNotExist)
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		ref       Ref
		wantErr   error // nil: writable
		wantInMsg string
		skipRoot  bool
	}{
		{"new file", Ref{File: filepath.Join(dir, "new")}, nil, "", false},
		{"existing 0600", Ref{File: writeFile(t, dir, "ok", canary, 0o600)}, nil, "", false},
		{"existing 0644", Ref{File: writeFile(t, dir, "loose", canary, 0o644)}, ErrInsecurePermissions, "chmod 600", false},
		{"existing 0622", Ref{File: writeFile(t, dir, "writable", canary, 0o622)}, ErrInsecurePermissions, "chmod 600", false},
		{"env ref", Ref{Env: "X"}, ErrInvalidRef, "must be a file", false},
		{"missing dir", Ref{File: filepath.Join(dir, "missing", "x")}, os.ErrNotExist, "directory", false},
		{"read-only dir", Ref{File: filepath.Join(readOnly, "x")}, os.ErrPermission, "not writable", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipRoot && os.Geteuid() == 0 {
				t.Skip("root may write any directory")
			}
			err := tt.ref.CheckWritable()
			if tt.wantErr == nil {
				checkErr(t, err, nil)
				return
			}
			checkErr(t, err, tt.wantErr, tt.wantInMsg)
		})
	}
}
