//go:build unix

package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestResolveCommand(t *testing.T) {
	tests := []struct {
		name      string
		script    string
		timeout   time.Duration
		want      string
		wantErr   error
		wantInMsg []string
	}{
		{"stdout is the value", "printf '%s\\n' " + canary, 0, canary, nil, nil},
		{"only one newline trimmed", "printf '%s\\n\\n' " + canary, 0, canary + "\n", nil, nil},
		{"stderr ignored on success", "echo noise >&2; printf %s " + canary, 0, canary, nil, nil},
		{"non-zero exit", "echo " + canary + "; echo " + canary + " >&2; exit 3", 0, "", ErrCommandFailed,
			[]string{"command sh", "exit status 3", "stderr suppressed"}},
		{"killed by signal", "kill -9 $$", 0, "", ErrCommandFailed, []string{"signal: killed"}},
		{"empty output", "true", 0, "", ErrEmpty, nil},
		{"timeout", "echo " + canary + "; sleep 100", 200 * time.Millisecond, "", ErrCommandFailed,
			[]string{"timed out after 200ms"}},
		{"too large", "head -c 2000000 /dev/zero", 0, "", ErrCommandFailed, []string{"larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got, err := Ref{Command: []string{"sh", "-c", tt.script}, Timeout: tt.timeout}.Resolve(t.Context())
			checkErr(t, err, tt.wantErr, tt.wantInMsg...)
			if got.Reveal() != tt.want {
				t.Fatal("resolved value differs from the expected one")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("Resolve took %s", d)
			}
		})
	}
}

func TestResolveCommandNotFound(t *testing.T) {
	_, err := Ref{Command: []string{"tokenkeeper-no-such-program", canary}}.Resolve(t.Context())
	checkErr(t, err, ErrCommandFailed, "command tokenkeeper-no-such-program", "could not start")
}

// TestResolveCommandTimeoutKillsProcessGroup: a helper that forks
// (sh → sleep) must not outlive the timeout.
func TestResolveCommandTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := "sleep 100 & echo $! > " + pidFile + "; wait"
	start := time.Now()
	_, err := Ref{Command: []string{"sh", "-c", script}, Timeout: 300 * time.Millisecond}.Resolve(t.Context())
	checkErr(t, err, ErrCommandFailed, "timed out")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Resolve returned after %s, want soon after the 300ms timeout", d)
	}
	waitGone(t, readPid(t, pidFile))
}

// processGone reports whether pid no longer runs (absent or a zombie).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// Field 3 is the state; the comm field before it is in parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// TestResolveCommandReapsBackgroundChildren: a helper that answers and
// exits but leaves a child behind (holding stdout) still yields its value,
// and the child is killed.
func TestResolveCommandReapsBackgroundChildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := "sleep 100 & echo $! > " + pidFile + "; printf '%s\\n' " + canary
	start := time.Now()
	got, err := Ref{Command: []string{"sh", "-c", script}, Timeout: 20 * time.Second}.Resolve(t.Context())
	checkErr(t, err, nil)
	if got.Reveal() != canary {
		t.Fatal("resolved value differs from the expected one")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Resolve took %s, want about WaitDelay (%s)", d, waitDelay)
	}
	waitGone(t, readPid(t, pidFile))
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone polls, bounded, until pid is gone: SIGKILL is delivered before
// Resolve returns, but the exit and the reaping by init are asynchronous.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; !processGone(pid); i++ {
		if i == 500 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d survived Resolve", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestResolveCommandScrubsEnv: a helper does not inherit the variables
// named in Scrub (other profiles' {env:} secrets), and keeps the rest.
func TestResolveCommandScrubsEnv(t *testing.T) {
	t.Setenv("TK_OTHER_PW", canary)
	t.Setenv("TK_KEPT", "kept")
	got, err := Ref{Command: []string{"sh", "-c", `printf '%s/%s' "${TK_OTHER_PW:-none}" "$TK_KEPT"`},
		Scrub: []string{"TK_OTHER_PW"}}.Resolve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.Reveal() != "none/kept" {
		t.Fatalf("the helper saw a scrubbed variable or lost a kept one (%d bytes)", len(got.Reveal()))
	}
}
