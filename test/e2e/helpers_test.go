// Package e2e runs the real binaries end to end: tokenkeeper (as a plugin,
// as the CLI and agent) against tokenkeeper-sim. The binaries are built
// once per test run in TestMain; every test is skipped under -short.
//
// The helpers: startSim runs a simulator (Sim), newTK an isolated
// tokenkeeper user (tkEnv, tk_helpers_test.go) whose commands run bounded
// and whose agents stop at cleanup. Every child process a test starts is
// bounded in time, so a hang fails the test that hung, by name, long
// before the package's timeout.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/rundir"
	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// Bounds of the child processes the tests start.
const (
	// readyTimeout bounds a simulator's start (its ready line).
	readyTimeout = 15 * time.Second
	// stopTimeout is how long a SIGTERMed child may take to revoke and
	// exit before it is SIGKILLed.
	stopTimeout = 10 * time.Second
	// waitDelay bounds Wait once a child exited but a process it started
	// still holds its output pipes.
	waitDelay = 5 * time.Second
)

// bin holds the binaries TestMain built; err is why they are missing.
var bin struct {
	dir, tokenkeeper, sim string
	err                   error
}

func TestMain(m *testing.M) {
	if os.Getenv(envOrphanHost) != "" {
		os.Exit(runOrphanHost()) // this process is a helper host, not a test run
	}
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "tokenkeeper-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.dir = dir
	bin.tokenkeeper = filepath.Join(dir, "tokenkeeper")
	bin.sim = filepath.Join(dir, "tokenkeeper-sim")
	bin.err = build(dir)
	// Every test gives what it starts a private runtime dir (tkEnv,
	// launch): the invoking user's own must come out untouched.
	userDirs := rundir.Dirs(os.Getenv)
	before := rundir.Snapshot(userDirs)
	code := m.Run()
	if after := rundir.Snapshot(userDirs); after != before {
		fmt.Fprintf(os.Stderr, "FAIL: the tests changed the invoking user's runtime directories %v:\nbefore:\n%safter:\n%s",
			userDirs, before, after)
		code = 1
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the binaries from the module root (two levels up): the
// front, the core it hands everything else to (beside it), the simulator.
func build(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/tokenkeeper", "./cmd/tokenkeeper-core", "./cmd/tokenkeeper-sim")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	return nil
}

// binaries returns the paths of the built tokenkeeper and tokenkeeper-sim,
// skipping the test under -short.
func binaries(t testing.TB) (tokenkeeper, simulator string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	if bin.err != nil {
		t.Fatalf("could not build the binaries: %v", bin.err)
	}
	return bin.tokenkeeper, bin.sim
}

// proc is a long-running child (a simulator, a foreground agent), stopped
// at the end of the test that started it.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
}

// startProc starts cmd and registers its stop as a cleanup of t.
func startProc(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", filepath.Base(cmd.Path), err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process by PID: SIGTERM (it revokes what it holds), then
// SIGKILL after stopTimeout. Calling it again is harmless.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Sim is a running `tokenkeeper-sim KIND --tls`.
type Sim struct {
	URL    string
	CAFile string
	// HTTP trusts the simulator's CA.
	HTTP   *http.Client
	stderr *testutil.SyncBuffer
}

// startSim runs `tokenkeeper-sim KIND --tls --ca-out … ARGS…` on
// 127.0.0.1:0, waits for its ready line and stops it when the test ends.
func startSim(t testing.TB, kind string, args ...string) *Sim {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "sim-ca.pem")
	s, _ := runSim(t, append([]string{kind, "--listen", "127.0.0.1:0", "--tls", "--ca-out", caFile}, args...))
	s.HTTP = trusting(t, s.CAFile)
	return s
}

// runSim runs `tokenkeeper-sim ARGV…` and waits for its ready line; it
// stops when the test ends, or earlier by its proc.
func runSim(t testing.TB, argv []string) (*Sim, *proc) {
	t.Helper()
	_, simulator := binaries(t)
	cmd := exec.Command(simulator, argv...)
	s := &Sim{stderr: &testutil.SyncBuffer{}}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(t, cmd)
	ready := readReady(t, p, stdout, s.stderr)
	s.URL, s.CAFile = ready.URL, ready.CAFile
	return s, p
}

// readReady reads the simulator's ready line, for at most readyTimeout,
// and keeps draining its stdout after it.
func readReady(t testing.TB, p *proc, stdout io.Reader, stderr *testutil.SyncBuffer) sim.Ready {
	t.Helper()
	line := firstLine(t, "tokenkeeper-sim", stdout, stderr)
	var r sim.Ready
	if json.Unmarshal([]byte(line), &r) != nil || r.URL == "" {
		t.Fatalf("tokenkeeper-sim: no ready line (got %q, exited %v); stderr:\n%s", line, p.exited(), stderr.String())
	}
	return r
}

// firstLine reads the first line a child prints on stdout, for at most
// readyTimeout, and keeps draining its stdout after it.
func firstLine(t testing.TB, name string, stdout io.Reader, stderr *testutil.SyncBuffer) string {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, br)
	}()
	select {
	case line := <-lines:
		return line
	case <-time.After(readyTimeout):
		t.Fatalf("%s: not ready after %s; stderr:\n%s", name, readyTimeout, stderr.String())
	}
	return ""
}

// trusting returns an HTTP client that trusts only the CA in caFile.
func trusting(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("read CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// Stats reads GET /_sim/stats.
func (s *Sim) Stats(t testing.TB) sim.Stats {
	t.Helper()
	resp, err := s.HTTP.Get(s.URL + "/_sim/stats")
	if err != nil {
		t.Fatalf("GET /_sim/stats: %v", err)
	}
	defer resp.Body.Close()
	var st sim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode /_sim/stats: %v", err)
	}
	return st
}

// Expire posts {"what": what} to /_sim/expire (access, refresh, sessions, all).
func (s *Sim) Expire(t testing.TB, what string) {
	t.Helper()
	s.post(t, "/_sim/expire", map[string]string{"what": what})
}

// Fault posts a fault to /_sim/faults.
func (s *Sim) Fault(t testing.TB, f sim.Fault) {
	t.Helper()
	s.post(t, "/_sim/faults", f)
}

// Reset posts /_sim/reset: no sessions, no counts, no faults.
func (s *Sim) Reset(t testing.TB) {
	t.Helper()
	s.post(t, "/_sim/reset", struct{}{})
}

func (s *Sim) post(t testing.TB, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := s.HTTP.Post(s.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: HTTP %d", path, resp.StatusCode)
	}
}

// Stderr is what the simulator logged so far (its request log).
func (s *Sim) Stderr() string { return s.stderr.String() }

// header is the authorization header a Token document names.
type header struct{ Name, Value string }

// Domains calls VCF's GET /v1/domains with h and returns the status.
func (s *Sim) Domains(t testing.TB, h header) int {
	t.Helper()
	return s.status(t, http.MethodGet, "/v1/domains", nil, h)
}

// Login posts credentials to VCF's /v1/tokens directly (to lock an account).
func (s *Sim) Login(t testing.TB, user, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return s.status(t, http.MethodPost, "/v1/tokens", body, header{"Content-Type", "application/json"})
}

// Call sends one authenticated Cloud Director GET with h and the
// version-carrying Accept header Cloud Director requires.
func (s *Sim) Call(t testing.TB, path, version string, h header) int {
	t.Helper()
	accept := "application/json;version=" + version
	if strings.HasPrefix(path, "/api/") {
		accept = "application/*+xml;version=" + version
	}
	return s.status(t, http.MethodGet, path, nil, h, header{"Accept", accept})
}

// status sends one request with the headers hs and returns the status.
func (s *Sim) status(t testing.TB, method, path string, body []byte, hs ...header) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// writeFile writes a 0600 file in a fresh temp dir and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
