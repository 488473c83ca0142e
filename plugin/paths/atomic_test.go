package paths

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Dir.WriteAtomic is the one atomic write of tokenkeeper (the runtime
// directory's state files, and secret.WriteFileAtomic for the files a
// rotation rewrites): these tests kill a writer to prove a reader never
// sees a partial file.

const (
	helperEnv    = "TOKENKEEPER_PATHS_HELPER" // mode of the child process
	helperTarget = "TOKENKEEPER_PATHS_TARGET" // file the child writes, in a private directory
	helperSize   = 4 << 20                    // bytes per value: big enough to take time
)

// value returns a distinct, recognisable content of helperSize bytes.
func value(fill byte) []byte { return bytes.Repeat([]byte{fill}, helperSize) }

// TestHelperProcess is not a test: it is the child process the atomicity
// tests start and SIGKILL. It does nothing unless helperEnv is set.
func TestHelperProcess(t *testing.T) {
	target := os.Getenv(helperTarget)
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	d, err := OpenDir(filepath.Dir(target))
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	name := filepath.Base(target)
	switch mode {
	case "block-before-rename":
		_ = d.writeAtomic(name, value('N'), 0o600, func(tmp string) {
			fmt.Printf("ready %s\n", tmp)
			select {} // the parent kills us here
		})
	case "loop":
		// Alternate values until killed at an arbitrary instant.
		for i := range 1000 {
			if err := d.WriteAtomic(name, value("AB"[i%2]), 0o600); err != nil {
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

// TestWriteAtomicSurvivesKillBeforeRename kills the writer after the new
// value is fully written and synced to the temporary file but before the
// rename: the target must still hold the complete old value.
func TestWriteAtomicSurvivesKillBeforeRename(t *testing.T) {
	d := privateDir(t)
	target := d.Join("refresh-token")
	old, next := value('O'), value('N')
	if err := d.WriteAtomic("refresh-token", old, 0o600); err != nil {
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
	if err := d.WriteAtomic("refresh-token", next, 0o600); err != nil {
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

// TestWriteAtomicSurvivesKillAnywhere kills a writer looping over two
// values at whatever instant it happens to be in.
func TestWriteAtomicSurvivesKillAnywhere(t *testing.T) {
	d := privateDir(t)
	target := d.Join("refresh-token")
	a, b := value('A'), value('B')
	if err := d.WriteAtomic("refresh-token", b, 0o600); err != nil {
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
