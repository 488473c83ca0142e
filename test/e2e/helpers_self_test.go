package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// recordTB records Errorf instead of failing.
type recordTB struct {
	testing.TB
	errs []string
}

func (r *recordTB) Helper() {}

func (r *recordTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestWithinNamesAHang: the watchdog that bounds plugin calls returns
// errHung and names what hung; a call that returns in time passes its
// error through untouched.
func TestWithinNamesAHang(t *testing.T) {
	rec := &recordTB{TB: t}
	block := make(chan struct{})
	defer close(block)
	err := within(rec, "the blocked call", 50*time.Millisecond, func() error { <-block; return nil })
	if !errors.Is(err, errHung) || len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "the blocked call did not return within 50ms") {
		t.Fatalf("within on a hang: %v, reported %q", err, rec.errs)
	}
	want := errors.New("plain failure")
	if err := within(rec, "a quick call", time.Minute, func() error { return want }); err != want || len(rec.errs) != 1 {
		t.Fatalf("within on a quick call: %v, reported %q", err, rec.errs)
	}
}

// TestRunBoundsLeftOpenOutput: a command that exits while a process it
// started keeps its stdout open (an agent that kept the caller's pipe)
// fails the test at once, named, instead of blocking run until that
// process ends.
func TestRunBoundsLeftOpenOutput(t *testing.T) {
	rec := &recordTB{TB: t}
	tk := &tkEnv{bin: "/bin/sh", dir: t.TempDir(), waitDelay: 100 * time.Millisecond, seen: &testutil.SyncBuffer{}}
	pidFile := filepath.Join(tk.dir, "pid")
	t.Cleanup(func() { // the background sleep, by PID
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	start := time.Now()
	r := tk.run(rec, nil, "-c", "sleep 30 & echo $! > pid; echo started")
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("run waited %s for the background child", took)
	}
	if r.code != 0 || r.stdout != "started\n" || len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "kept its output open") {
		t.Fatalf("run: %+v, reported %q", r, rec.errs)
	}
}

// TestBenchCommandFailures: a benchmark's command that exits non-zero or
// prints nothing is an error naming it, never a time to take a ratio of.
func TestBenchCommandFailures(t *testing.T) {
	for _, tc := range []struct {
		c    command
		want string // "" for success
	}{
		{command{name: "echo", path: "/bin/sh", args: []string{"-c", "echo token"}}, ""},
		{command{name: "silent", path: "/bin/sh", args: []string{"-c", "true"}}, "silent: exit 0 with nothing on stdout"},
		{command{name: "failing", path: "/bin/sh", args: []string{"-c", "echo partial; echo why >&2; exit 3"}}, "failing: exit status 3; stderr:\nwhy"},
		{command{name: "missing", path: filepath.Join(t.TempDir(), "none")}, "missing: "},
	} {
		d, err := tc.c.measure()
		switch {
		case tc.want == "" && (err != nil || d <= 0):
			t.Errorf("%s: %v, %s", tc.c.name, err, d)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to start with %q", tc.c.name, err, tc.want)
		}
	}
}
