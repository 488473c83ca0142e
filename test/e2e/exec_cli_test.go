package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExecConfigEditRestartsAgent: after the profiles file is edited, the
// next get is served by a new agent that knows the new profile; the old
// one revokes what it held and exits.
func TestExecConfigEditRestartsAgent(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	cfg := vcfConfig(s, e2eUser, "{env: TK_E2E_PW}")
	tk := newTK(t, cfg, pwEnv)
	if r := tk.run(t, nil, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get: exit %d: %s", r.code, r.stderr)
	}
	old := tk.agentPIDs(t)
	if len(old) != 1 {
		t.Fatalf("agents: %v", old)
	}
	edited := cfg + strings.Replace(strings.TrimPrefix(cfg, "profiles:\n"), "sddc:", "second:", 1)
	if err := os.WriteFile(tk.config, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := tk.run(t, nil, "get", "--profile", "second"); r.code != 0 {
		t.Fatalf("get of the new profile: exit %d: %s", r.code, r.stderr)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		pids := tk.agentPIDs(t)
		if len(pids) == 1 && pids[0] != old[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents %v, want one new agent (old %d)", pids, old[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.Stats(t); st.Logins != 2 || st.Revocations != 1 {
		t.Errorf("stats %+v: want 2 logins and the old agent's refresh token revoked", st)
	}
}

// TestExecPassesSignalsAndStatus: `tokenkeeper exec` gives the command the
// token in its environment, forwards SIGTERM to it, and exits with its
// status.
func TestExecPassesSignalsAndStatus(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	if r := tk.run(t, nil, "exec", "--profile", "sddc", "--", "sh", "-c", `test -n "$TOKENKEEPER_TOKEN" && exit 9`); r.code != 9 {
		t.Fatalf("exec: exit %d, want the command's 9: %s", r.code, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := `trap 'exit 42' TERM; echo "ready $TOKENKEEPER_HEADER_NAME"; while :; do sleep 0.05; done`
	cmd := tk.command(ctx, "exec", "--profile", "sddc", "--", "sh", "-c", script)
	// Its own process group, killed as one when ctx ends: the looping sh
	// holds the stdout pipe, and outliving tokenkeeper it would block the
	// read below for good.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready Authorization\n" {
		t.Fatalf("command output %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 42 {
		t.Fatalf("exit %d, want 42 from the command's TERM trap", code)
	}
}

// TestExecGetStartingAgentReleasesCallerPipes: `out=$(tokenkeeper get …)`
// returns as soon as get exits when get started the agent, also when the
// caller hands its pipes down on more descriptors (Packer's shell-local
// passes its output as fds 4 and 5): the detached agent keeps none of them,
// else the reader waits for the agent's idle exit.
func TestExecGetStartingAgentReleasesCallerPipes(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	scripts := map[string]string{
		"plain": `out=$("$TK" get --profile sddc --format token) && test -n "$out" && echo got-token`,
		// fd 5: this test's stdout pipe; fd 4 of get: the $(…) pipe.
		"fds 4 and 5": `exec 5>&1; out=$("$TK" get --profile sddc --format token 4>&1) && test -n "$out" && echo got-token`,
	}
	for _, name := range []string{"plain", "fds 4 and 5"} {
		t.Run(name, func(t *testing.T) {
			if r := tk.run(t, nil, "agent", "stop"); r.code != 0 {
				t.Fatalf("agent stop: exit %d: %s", r.code, r.stderr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", "-c", scripts[name])
			cmd.Env = append(tk.env, "TK="+tk.bin)
			cmd.Dir = tk.dir
			cmd.WaitDelay = time.Second
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			t0 := time.Now()
			err := cmd.Run()
			if took := time.Since(t0); err != nil || took > 15*time.Second {
				t.Fatalf("sh: %v after %s (stderr %q): a pipe of the caller stayed open in the agent", err, took, errb.String())
			}
			if out.String() != "got-token\n" {
				t.Fatalf("stdout %q, stderr %q", out.String(), errb.String())
			}
			if pids := tk.agentPIDs(t); len(pids) != 1 {
				t.Fatalf("agents %v: get did not start one", pids)
			}
		})
	}
}

// TestExecRawFormatsAndRetryAt: through the real binary and agent, a
// failing `get --format header` leaves nothing for curl -H "$(…)" to send,
// the lockout guard's Error document says when it retries, and exec of a
// missing command exits 127.
func TestExecRawFormatsAndRetryAt(t *testing.T) {
	const wrong = "wrong-raw-pw-4"
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), "TK_E2E_PW="+wrong)
	for i, format := range []string{"header", "token", "env"} {
		r := tk.run(t, nil, "get", "--profile", "sddc", "--format", format)
		if r.code != 3 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("get #%d --format %s: exit %d, stdout %q, stderr %q; want 3, nothing on stdout, one line", i, format, r.code, r.stdout, r.stderr)
		}
	}
	before := time.Now()
	r := tk.run(t, nil, "get", "--profile", "sddc")
	doc := checkErrorOutput(t, r, wrong)
	at, err := time.Parse(time.RFC3339, doc.Error.RetryAt)
	if doc.Error.Code != "FailedPrecondition" || err != nil || !at.After(before) {
		t.Fatalf("guard refusal %+v: want FailedPrecondition with a future retryAt (%v)", doc.Error, err)
	}
	if st := s.Stats(t); st.LoginFailures != 1 {
		t.Errorf("%d failed logins upstream, want 1", st.LoginFailures)
	}
	good := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	r = good.run(t, nil, "exec", "--profile", "sddc", "--", filepath.Join(good.dir, "nonexistent"))
	if r.code != 127 || r.stdout != "" {
		t.Fatalf("exec of a missing command: exit %d, stdout %q; want 127", r.code, r.stdout)
	}
}
