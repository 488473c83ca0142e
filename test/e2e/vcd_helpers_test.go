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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
)

// vcdBins are the real binaries under test.
type vcdBins struct{ tokenkeeper, sim string }

// vcdBuffer is a goroutine-safe output sink.
type vcdBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *vcdBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *vcdBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// vcdSim is a running `tokenkeeper-sim vcd --tls`.
type vcdSim struct {
	url    string
	caFile string
	client *http.Client
	log    *vcdBuffer
}

// vcdStartSim starts the simulator and stops it (SIGTERM, by PID) at
// cleanup.
func vcdStartSim(t *testing.T, bin, dir string, args ...string) *vcdSim {
	t.Helper()
	ca := filepath.Join(dir, fmt.Sprintf("ca-%d.pem", time.Now().UnixNano()))
	cmd := exec.Command(bin, append([]string{"vcd", "--tls", "--ca-out", ca}, args...)...)
	s := &vcdSim{log: &vcdBuffer{}}
	cmd.Stderr = s.log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vcdStop(cmd) })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
	}()
	var ready sim.Ready
	select {
	case line := <-lines:
		if err := json.Unmarshal([]byte(line), &ready); err != nil {
			t.Fatalf("simulator ready line %q: %v (stderr: %s)", line, err, s.log)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("simulator did not get ready")
	}
	pem, err := os.ReadFile(ready.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	s.url, s.caFile = ready.URL, ready.CAFile
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return s
}

// vcdStop ends a child we started: SIGTERM, then SIGKILL after 10 s.
func vcdStop(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// stats reads GET /_sim/stats.
func (s *vcdSim) stats(t *testing.T) sim.Stats {
	t.Helper()
	resp, err := s.client.Get(s.url + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st sim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// call sends one authenticated GET with the header tokenkeeper returned
// and the version-carrying Accept header Cloud Director requires.
func (s *vcdSim) call(t *testing.T, path, version string, h vcdHeader) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	accept := "application/json;version=" + version
	if strings.HasPrefix(path, "/api/") {
		accept = "application/*+xml;version=" + version
	}
	req.Header.Set("Accept", accept)
	req.Header.Set(h.Name, h.Value)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// post sends a /_sim/ command.
func (s *vcdSim) post(t *testing.T, path, body string) {
	t.Helper()
	resp, err := s.client.Post(s.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

type vcdHeader struct{ Name, Value string }

// vcdToken is the part of `tokenkeeper get`'s Token document we check.
type vcdToken struct {
	Kind        string    `json:"kind"`
	Provider    string    `json:"provider"`
	Token       string    `json:"token"`
	TokenType   string    `json:"tokenType"`
	Header      vcdHeader `json:"header"`
	Fingerprint string    `json:"fingerprint"`
}

// vcdCLI runs tokenkeeper against one config and runtime directory and
// keeps every byte of stderr (and of error documents) for the canary.
type vcdCLI struct {
	t      *testing.T
	bin    string
	config string
	env    []string
	// seen collects everything the CLI and agent wrote that must be free
	// of secrets (stderr, error documents, status output, agent logs).
	seen  *vcdBuffer
	agent *exec.Cmd
}

func vcdNewCLI(t *testing.T, bin, dir, config string, extraEnv ...string) *vcdCLI {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	runtime := filepath.Join(dir, "run")
	if err := os.MkdirAll(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_RUNTIME_DIR=" + runtime,
		"XDG_CONFIG_HOME=" + dir, "TMPDIR=" + dir}, extraEnv...)
	return &vcdCLI{t: t, bin: bin, config: path, env: env, seen: &vcdBuffer{}}
}

// run executes one tokenkeeper command and returns stdout and the exit
// status; stderr goes to the canary buffer.
func (c *vcdCLI) run(args ...string) (string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--config", c.config}, args...)...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = c.seen
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("tokenkeeper %s: %v", args[0], err)
	}
	if code != 0 {
		c.seen.Write(out.Bytes()) // an error document must be clean too
	}
	return out.String(), code
}

// startAgent runs the agent in the foreground with trace logs captured,
// waits for its socket, and stops it at cleanup.
func (c *vcdCLI) startAgent() {
	c.t.Helper()
	cmd := exec.Command(c.bin, "--config", c.config, "--log-level", "trace", "agent")
	cmd.Env = c.env
	cmd.Stdout = c.seen
	cmd.Stderr = c.seen
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.agent = cmd
	c.t.Cleanup(func() { vcdStop(cmd) })
	runtime := strings.TrimPrefix(c.env[2], "XDG_RUNTIME_DIR=")
	for range 200 {
		if m, _ := filepath.Glob(filepath.Join(runtime, "tokenkeeper", "*.sock")); len(m) > 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	c.t.Fatalf("agent socket did not appear")
}

// get runs `tokenkeeper get` and decodes the Token document.
func (c *vcdCLI) get(profile string, extra ...string) vcdToken {
	c.t.Helper()
	out, code := c.run(append([]string{"get", "--profile", profile}, extra...)...)
	if code != 0 {
		c.t.Fatalf("get %s: exit %d", profile, code)
	}
	var tok vcdToken
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Kind != "Token" {
		c.t.Fatalf("get %s: not a Token document (%v)", profile, err)
	}
	return tok
}
