package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// TestInvalidUTF8Profile: a --profile that is not UTF-8 reached gRPC,
// which refused to marshal it: exit 1 and a raw "grpc: error while
// marshaling". It is a usage error now, and the value is not echoed.
func TestInvalidUTF8Profile(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	for _, args := range [][]string{
		{"get", "--profile", "sddc\xff\xfe"},
		{"invalidate", "--profile", "\xff", "--fingerprint", "sha256:00"},
		{"logout", "--profile", "\xc3"},
	} {
		o := c.run(context.Background(), "", args...)
		if o.code != 2 || !strings.Contains(o.stderr, "--profile is not valid UTF-8 (value not shown)") ||
			strings.Contains(o.stderr, "grpc") || strings.Contains(o.stderr, "\xff") {
			t.Errorf("%s: exit %d, stderr %q; want 2 and a usage message", args[0], o.code, o.stderr)
		}
	}
}

// TestSocketPathTooLong: an XDG_RUNTIME_DIR too long for a unix socket
// made every get exit 5 (retryable) after an agent that could not bind;
// the problem is permanent: exit 2, naming the cause and the fix.
func TestSocketPathTooLong(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	long := filepath.Join(c.env["XDG_RUNTIME_DIR"], strings.Repeat("d", 100))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	c.env["XDG_RUNTIME_DIR"] = long
	o := c.run(context.Background(), "", "get", "--profile", "sddc", "--timeout", "10s")
	if o.code != 2 || !strings.Contains(o.stderr, "longer than the 107 a unix socket allows: set XDG_RUNTIME_DIR to a shorter directory") {
		t.Fatalf("exit %d, stderr %q; want 2 with the cause and the fix", o.code, o.stderr)
	}
}

// TestMissingTempDir: without XDG_RUNTIME_DIR and with TMPDIR naming a
// directory that does not exist, get failed with exit 1 (internal). Such
// a TMPDIR is now skipped for the home cache (paths.OpenRuntimeDir); with
// no home either it is the environment's problem: exit 2 with the fix.
func TestMissingTempDir(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	delete(c.env, "XDG_RUNTIME_DIR")
	delete(c.env, "HOME")
	c.env["TMPDIR"] = "/nonexistent"
	o := c.run(context.Background(), "", "get", "--profile", "sddc", "--timeout", "10s")
	if o.code != 2 || !strings.Contains(o.stderr, "set XDG_RUNTIME_DIR or HOME") {
		t.Fatalf("exit %d, stderr %q; want 2 with the fix", o.code, o.stderr)
	}
}

// TestFullRuntimeDir: a runtime directory on a full file system made get
// exit 1 (the key could not be written) or 5 (the agent could not bind
// its socket, "did not become ready"). Both need a person: exit 2. Runs
// as root only, on a 64 KiB tmpfs it mounts.
func TestFullRuntimeDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	c := newCLITest(t, nil, testPassword)
	dir := filepath.Join(c.env["XDG_RUNTIME_DIR"], "full")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := osexec.Command("mount", "-t", "tmpfs", "-o", "size=64k,nr_inodes=64,mode=700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = osexec.Command("umount", "-l", dir).Run() }) // lazy, as MNT_DETACH; compiles for darwin too
	c.env["XDG_RUNTIME_DIR"] = dir
	// The runtime files exist (a past agent), then the file system fills.
	if o := c.run(context.Background(), "", "status"); o.code != 0 {
		t.Fatalf("status on the empty tmpfs: exit %d %s", o.code, o.stderr)
	}
	fill(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := c.run(ctx, "", "get", "--profile", "sddc", "--timeout", "10s")
	if o.code != 2 || !strings.Contains(o.stderr, "no space left on device") || !strings.Contains(o.stderr, "file system is full") {
		t.Fatalf("exit %d, stderr %q; want 2: the runtime directory is full", o.code, o.stderr)
	}
}

// fill uses up the blocks and inodes of the file system at dir.
func fill(t *testing.T, dir string) {
	t.Helper()
	big, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for i := 0; i < 1000; i++ {
		if _, err := big.Write(chunk); err != nil {
			break
		}
	}
	_ = big.Close()
	for i := 0; i < 1000; i++ {
		f, err := os.Create(filepath.Join(dir, "inode-"+string(rune('a'+i%26))+strings.Repeat("x", i/26)))
		if err != nil {
			break
		}
		_ = f.Close()
	}
}

// TestStatusTimeout: status against an agent that accepts connections but
// never answers (stopped with SIGSTOP, or hung) blocked 20 s and printed
// a raw gRPC error. It gives up after --timeout with a human message that
// names the process.
func TestStatusTimeout(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	o := c.run(context.Background(), "", "status", "--json")
	var doc exec.Status
	if err := json.Unmarshal([]byte(o.stdout), &doc); o.code != 0 || err != nil {
		t.Fatalf("status without an agent: exit %d, %v: %s", o.code, err, o.stderr)
	}
	l, err := net.Listen("unix", doc.Agent.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // a stopped agent: the kernel accepts, nobody speaks
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
	start := time.Now()
	o = c.run(context.Background(), "", "status", "--timeout", "300ms")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("status --timeout 300ms took %s", d)
	}
	want := fmt.Sprintf("the agent (pid %d) on %s accepted the connection but did not answer within --timeout 300ms", os.Getpid(), doc.Agent.Socket)
	if o.code != 5 || !strings.Contains(o.stderr, want) || strings.Contains(o.stderr, "grpc") {
		t.Fatalf("exit %d, stderr %q; want 5 and %q", o.code, o.stderr, want)
	}
}

// TestRuntimeDirErrorOnlyInTheDir: a start that fails on the executable
// (not found) is not blamed on the runtime directory.
func TestRuntimeDirErrorOnlyInTheDir(t *testing.T) {
	dir := t.TempDir()
	exe := &os.PathError{Op: "fork/exec", Path: "/nonexistent/tokenkeeper", Err: syscall.ENOENT}
	if err := runtimeDirError(exe, dir); err != error(exe) {
		t.Fatalf("an executable not found became %v", err)
	}
	full := &os.PathError{Op: "open", Path: filepath.Join(dir, "agent.log"), Err: syscall.ENOSPC}
	if err := runtimeDirError(full, dir); !strings.Contains(err.Error(), "file system is full") {
		t.Fatalf("a full runtime directory stayed %v", err)
	}
}
