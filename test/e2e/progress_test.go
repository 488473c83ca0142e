package e2e

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestGetOnTerminalShowsProgress: `get` on a terminal, through the agent,
// against a port nobody listens on, says what it is waiting for within
// 3 s instead of staying silent until it gives up. The terminal is a
// pseudo-terminal made by script(1) from util-linux.
func TestGetOnTerminalShowsProgress(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) from util-linux is not installed: no pseudo-terminal to test with")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + l.Addr().String()
	_ = l.Close() // nobody listens there now: connection refused
	tk := newTK(t, "profiles:\n  sim:\n    provider: vcf\n    url: "+closed+
		"\n    username: admin@local\n    password: {env: TK_E2E_PW}\n", pwEnv)
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	line := tk.bin + " get --profile sim --timeout 6s --format token"
	cmd := exec.CommandContext(ctx, script, "-q", "-e", "-c", line, "/dev/null")
	cmd.Env, cmd.Dir, cmd.WaitDelay = tk.env, tk.dir, tk.waitDelay
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var first time.Duration
	var all []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		_, _ = tk.seen.Write([]byte(l + "\n"))
		all = append(all, l)
		if first == 0 && strings.HasPrefix(l, "tokenkeeper: waiting for "+closed+": connection refused (attempt ") {
			first = time.Since(start)
		}
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 5 {
		t.Errorf("exit %d (%v), want 5", code, err)
	}
	if first == 0 || first > 3*time.Second {
		t.Errorf("first progress line after %v (0: none), want within 3s; terminal showed:\n%s", first, strings.Join(all, "\n"))
	}
}
