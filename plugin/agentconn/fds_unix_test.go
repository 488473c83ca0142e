//go:build linux || darwin

package agentconn

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// inheritablePipe returns a pipe whose write end lacks FD_CLOEXEC, as a
// descriptor this process had inherited would (Packer's fds 4 and 5).
func inheritablePipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if _, err := fcntl(int(w.Fd()), syscall.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	return r, w
}

// TestSpawnDetachedKeepsNoInheritedFD: a detached child must not hold a
// descriptor its parent inherited, or whoever reads the other end of that
// pipe waits for the agent's exit (15 minutes) instead of the caller's.
func TestSpawnDetachedKeepsNoInheritedFD(t *testing.T) {
	r, w := inheritablePipe(t)
	wfd := int(w.Fd())
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	log := p.Log
	exited, err := SpawnDetached("/bin/sh", []string{"-c", "echo $$ >&2; exec sleep 60"}, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	pid := childPID(t, log)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); <-exited })

	if flags, err := fcntl(wfd, syscall.F_GETFD, 0); err != nil || flags&syscall.FD_CLOEXEC != 0 {
		t.Errorf("the parent's inherited descriptor was left close-on-exec (flags %#x, %v)", flags, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := r.Read(make([]byte, 1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("no EOF on the pipe within 5 s: the detached child holds the inherited write end")
	}
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read = %d, %v; want EOF", n, err)
	}
	select {
	case err := <-exited:
		t.Fatalf("the child exited early (%v): the test proved nothing", err)
	default:
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("child %d is not alive: %v", pid, err)
	}
}

// childPID reads the pid the child wrote first to its log.
func childPID(t *testing.T, log string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		if line, ok := bytes.CutSuffix(b, []byte("\n")); ok {
			pid, err := strconv.Atoi(string(line))
			if err != nil {
				t.Fatalf("log %q: %v", b, err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child wrote no pid to its log: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInheritableFDsFallback: without /proc (/dev/fd) the bounded scan finds the same
// descriptors.
func TestInheritableFDsFallback(t *testing.T) {
	_, w := inheritablePipe(t)
	var fromProc, fromScan []int
	eachFD(fdDir, func(fd int) { fromProc = append(fromProc, fd) })
	eachFD(filepath.Join(t.TempDir(), "no-proc"), func(fd int) { fromScan = append(fromScan, fd) })
	if !slices.Contains(fromScan, int(w.Fd())) {
		t.Fatalf("the scan missed descriptor %d", w.Fd())
	}
	for _, fd := range fromProc {
		// The directory fdDir itself was open while listed.
		if _, err := fcntl(fd, syscall.F_GETFD, 0); err == nil && !slices.Contains(fromScan, fd) {
			t.Errorf("the scan missed open descriptor %d", fd)
		}
	}
	if got := inheritableFDs(); !slices.Contains(got, int(w.Fd())) || slices.ContainsFunc(got, func(fd int) bool { return fd <= 2 }) {
		t.Errorf("inheritableFDs = %v, want %d and nothing at or below stderr", got, w.Fd())
	}
}
