package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// execBinaries returns the binaries TestMain built (helpers_test.go).
func execBinaries(t testing.TB) (tokenkeeper, sim string) {
	t.Helper()
	return binaries(t)
}

// simVCF is a running `tokenkeeper-sim vcf --tls`.
type simVCF struct {
	URL, CAFile string
	client      *http.Client
}

// startSimVCF runs the simulator on 127.0.0.1:0 with args appended and
// stops it at the end of the test.
func startSimVCF(t testing.TB, args ...string) *simVCF {
	t.Helper()
	_, bin := execBinaries(t)
	dir := t.TempDir()
	all := append([]string{"vcf", "--tls", "--listen", "127.0.0.1:0", "--ca-out", filepath.Join(dir, "ca.pem")}, args...)
	cmd := exec.Command(bin, all...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil // the request log is not needed
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("simulator did not become ready: %v", err)
	}
	var s simVCF
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return &s
}

// simStats mirrors GET /_sim/stats.
type simStats struct {
	Logins, LoginFailures, Refreshes, RefreshFailures, Revocations, APICalls, Unauthorized, ActiveSessions int64
}

func (s *simVCF) stats(t testing.TB) simStats {
	t.Helper()
	resp, err := s.client.Get(s.URL + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st simStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// domains calls GET /v1/domains with the header and returns the status.
func (s *simVCF) domains(t *testing.T, name, value string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/domains", nil)
	req.Header.Set(name, value)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// login posts credentials to /v1/tokens directly (to lock an account).
func (s *simVCF) login(t *testing.T, user, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := s.client.Post(s.URL+"/v1/tokens", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tkEnv is one isolated tokenkeeper user: its own runtime dir (so its
// agent is its own), config file and environment.
type tkEnv struct {
	bin     string
	dir     string
	config  string
	runtime string
	env     []string
}

// newTK writes config (YAML) and prepares the environment; the agent it may
// start is stopped at the end of the test.
func newTK(t testing.TB, config string, extraEnv ...string) *tkEnv {
	t.Helper()
	bin, _ := execBinaries(t)
	dir, err := os.MkdirTemp("", "tke") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	tk := &tkEnv{bin: bin, dir: dir, config: filepath.Join(dir, "config.yaml"), runtime: filepath.Join(dir, "run")}
	if err := os.Mkdir(tk.runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(tk.config, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tk.env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_RUNTIME_DIR=" + tk.runtime,
		"TOKENKEEPER_CONFIG=" + tk.config}, extraEnv...)
	t.Cleanup(func() {
		res := tk.run(t, nil, "agent", "stop")
		if res.code != 0 {
			t.Errorf("agent stop: exit %d: %s", res.code, res.stderr)
		}
		os.RemoveAll(dir)
	})
	return tk
}

// vcfConfig is a one-profile config for the simulator.
func vcfConfig(s *simVCF, user string, password string) string {
	return fmt.Sprintf(`profiles:
  sddc:
    provider: vcf
    url: %s
    ca_file: %s
    username: %s
    password: %s
`, s.URL, s.CAFile, user, password)
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs tokenkeeper with args and stdin, bounded to a minute.
func (tk *tkEnv) run(t testing.TB, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tk.bin, args...)
	cmd.Env = tk.env
	cmd.Dir = tk.dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("tokenkeeper %s: %v", strings.Join(args, " "), err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// tokenDoc and errorDoc are the documents of the exec protocol.
type tokenDoc struct {
	APIVersion, Kind, Profile, Provider, Token, TokenType string
	Header                                                struct{ Name, Value string }
	ExpiresAt                                             time.Time
	Fingerprint                                           string
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

// agentPIDs lists live processes running bin as an agent.
func agentPIDs(t testing.TB, bin string) []int {
	t.Helper()
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && args[0] == bin && args[1] == "agent" {
			stat, _ := os.ReadFile(filepath.Join(filepath.Dir(m), "stat"))
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue
			}
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(m)), "%d", &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}
