package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// cmdTimeout bounds one tokenkeeper command (a get, a status, an agent stop).
const cmdTimeout = time.Minute

// tkEnv is one isolated tokenkeeper user: its own runtime dir (so its
// agent is its own), home, config file and environment.
type tkEnv struct {
	bin     string // the tokenkeeper binary (a benchmark may swap in another build)
	dir     string
	config  string
	runtime string
	env     []string
	// waitDelay bounds Wait once tokenkeeper exited and a process it
	// started still holds its output (see helpers_test.go).
	waitDelay time.Duration
	// seen collects everything tokenkeeper wrote that must be free of
	// secrets: stderr, the stdout of failed commands (error documents),
	// the output of foreground agents.
	seen *testutil.SyncBuffer
}

// newTK writes config (YAML; "" writes none) and prepares the environment;
// every agent it starts is stopped (`agent stop`) at the end of the test.
func newTK(t testing.TB, config string, extraEnv ...string) *tkEnv {
	t.Helper()
	tokenkeeper, _ := binaries(t)
	dir, err := os.MkdirTemp("", "tke") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	tk := &tkEnv{bin: tokenkeeper, dir: dir, config: filepath.Join(dir, "config.yaml"),
		runtime: filepath.Join(dir, "run"), waitDelay: waitDelay, seen: &testutil.SyncBuffer{}}
	if err := os.Mkdir(tk.runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(tk.config, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tk.env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_RUNTIME_DIR=" + tk.runtime,
		"XDG_CONFIG_HOME=" + dir, "TMPDIR=" + dir, "TOKENKEEPER_CONFIG=" + tk.config}, extraEnv...)
	t.Cleanup(func() {
		if res := tk.run(t, nil, "agent", "stop"); res.code != 0 {
			t.Errorf("agent stop: exit %d: %s", res.code, res.stderr)
		}
		if pids := tk.agentPIDs(t); len(pids) != 0 {
			t.Errorf("agents %v still running after agent stop", pids)
		}
		_ = os.RemoveAll(dir)
	})
	return tk
}

// vcfConfig is a one-profile config for the simulator.
func vcfConfig(s *Sim, user string, password string) string {
	return fmt.Sprintf(`profiles:
  sddc:
    provider: vcf
    url: %s
    ca_file: %s
    username: %s
    password: %s
`, s.URL, s.CAFile, user, password)
}

// command is tokenkeeper ARGS in tk's environment, killed when ctx ends.
func (tk *tkEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, tk.bin, args...)
	cmd.Env = tk.env
	cmd.Dir = tk.dir
	cmd.WaitDelay = tk.waitDelay
	return cmd
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs tokenkeeper with args and stdin, bounded by cmdTimeout. A
// command that could not run, ran too long or left its output open in a
// process it started is an error of t (code -1 for the first two); run is
// safe to call from several goroutines.
func (tk *tkEnv) run(t testing.TB, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := tk.command(ctx, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(&errb, tk.seen)
	err := cmd.Run()
	r := result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	name := "tokenkeeper " + strings.Join(args, " ")
	switch {
	case ctx.Err() != nil:
		t.Errorf("%s: still running after %s, killed", name, cmdTimeout)
		r.code = -1
	case errors.Is(err, exec.ErrWaitDelay):
		t.Errorf("%s: exited, but a process it started kept its output open", name)
	case err != nil && r.code < 0:
		t.Errorf("%s: %v", name, err)
	}
	if r.code != 0 {
		_, _ = tk.seen.Write(out.Bytes()) // an error document must be clean too
	}
	return r
}

// get runs `tokenkeeper get --profile PROFILE EXTRA…` and decodes the
// Token document, failing the test otherwise.
func (tk *tkEnv) get(t testing.TB, profile string, extra ...string) tokenDoc {
	t.Helper()
	r := tk.run(t, nil, append([]string{"get", "--profile", profile}, extra...)...)
	var doc tokenDoc
	if err := strictDecode(r.stdout, &doc); r.code != 0 || err != nil || doc.Kind != "Token" {
		t.Fatalf("get %s: exit %d, not a Token document (%v): %s", profile, r.code, err, r.stderr)
	}
	return doc
}

// startAgent runs the agent in the foreground with trace logs going to
// tk.seen, waits (bounded) for its socket, and stops it (SIGTERM, by PID)
// at cleanup, before newTK's `agent stop`.
func (tk *tkEnv) startAgent(t testing.TB) *proc {
	t.Helper()
	cmd := exec.Command(tk.bin, "--log-level", "trace", "agent")
	cmd.Env, cmd.Dir = tk.env, tk.dir
	cmd.Stdout, cmd.Stderr = tk.seen, tk.seen
	p := startProc(t, cmd)
	deadline := time.Now().Add(readyTimeout)
	for {
		if m, _ := filepath.Glob(filepath.Join(tk.runtime, "tokenkeeper", "*.sock")); len(m) > 0 {
			return p
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("the agent's socket did not appear within %s (agent exited: %v)", readyTimeout, p.exited())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// tokenDoc and errorDoc are the documents of the exec protocol.
type tokenDoc struct {
	APIVersion, Kind, Profile, Provider, Token, TokenType string
	Header                                                header
	ExpiresAt                                             time.Time
	Fingerprint                                           string
	URL, CAFile                                           string // optional: the profile's upstream and CA bundle
	Principal, Role                                       string // optional: whose token, which role
}

type errorDoc struct {
	APIVersion, Kind string
	Error            struct {
		Code      string
		Message   string
		Retryable bool
		RetryAt   string // optional: the lockout guard's next attempt
	}
}

// strictDecode decodes exactly one JSON document with no unknown fields.
func strictDecode(data string, v any) error {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one document")
	}
	return nil
}

// agentPIDs lists the live agents of tk: processes running `tk.bin agent`
// with tk's runtime dir, so that agents of other tests never count.
func (tk *tkEnv) agentPIDs(t testing.TB) []int {
	t.Helper()
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) < 2 || args[0] != tk.bin || args[1] != "agent" {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(m)))
		if err != nil || pidGone(pid) || !hasEnv(pid, "XDG_RUNTIME_DIR="+tk.runtime) {
			continue
		}
		pids = append(pids, pid)
	}
	// An agent's environ is unreadable to other processes of a non-root
	// user (it is not dumpable): those answering on a socket count too.
	for _, pid := range tk.socketPIDs(t) {
		if !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// hasEnv reports whether process pid's environment holds kv.
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return err == nil && bytes.Contains(append([]byte{0}, b...), []byte("\x00"+kv+"\x00"))
}

// pidGone: pid has exited (a zombie nobody reaps counts as gone).
func pidGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
