package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// TestPluginRevokesOnSIGTERM: a plugin stopped by SIGTERM (a service
// manager, a container runtime) revokes what it holds before exiting, as
// it does when its host closes it.
//
// Not parallel: while it runs, its plugin is this process's only
// tokenkeeper child, which is how the test finds its PID.
func TestPluginRevokesOnSIGTERM(t *testing.T) {
	e := launchPlugin(t, "debug")
	if _, err := e.client.Token(callCtx(t), "sddc", host.TokenOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := e.sim.Stats(t); st.ActiveSessions != 1 {
		t.Fatalf("before SIGTERM: %+v", st)
	}
	pid := childPID(t, bin.tokenkeeper)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %d: %v", pid, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := e.sim.Stats(t)
		if st.ActiveSessions == 0 && st.Revocations == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after SIGTERM the refresh token is still live: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childPID finds the one child process of this test process running exe.
func childPID(t *testing.T, exe string) int {
	t.Helper()
	found := childPIDs(exe)
	if len(found) == 1 {
		return found[0]
	}
	if runtime.GOOS == "linux" {
		t.Fatalf("found %d tokenkeeper children through /proc, want 1: %v", len(found), found)
	}
	t.Skipf("cannot find child processes through /proc on %s", runtime.GOOS)
	return 0
}

// childPIDs lists the child processes of this process running exe
// (Linux: /proc/self/task/*/children).
func childPIDs(exe string) []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var found []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(s)
			if path, err := os.Readlink("/proc/" + s + "/exe"); err == nil && runs(path, exe) {
				found = append(found, pid)
			}
		}
	}
	return found
}

// runs reports whether a process whose /proc/PID/exe is path runs the
// tokenkeeper binary exe: exe itself, or the core it execs in place for
// plugin mode (tokenkeeper-core beside it), whose pid the host launched.
func runs(path, exe string) bool {
	return path == exe || path == filepath.Join(filepath.Dir(exe), "tokenkeeper-core")
}
