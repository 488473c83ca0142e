// Package e2e runs the real binaries end to end: tokenkeeper (as a plugin,
// as the CLI and agent) against tokenkeeper-sim. The binaries are built
// once per test run in TestMain; every test is skipped under -short.
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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
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
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles both binaries from the module root (two levels up).
func build(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/tokenkeeper", "./cmd/tokenkeeper-sim")
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

// Sim is a running tokenkeeper-sim process.
type Sim struct {
	URL    string
	CAFile string
	// HTTP trusts the simulator's CA.
	HTTP   *http.Client
	stderr *syncBuffer
}

// StartSim runs `tokenkeeper-sim KIND --tls --ca-out … ARGS…`, waits for its
// ready line and stops it (SIGTERM) when the test ends.
func StartSim(t testing.TB, kind string, args ...string) *Sim {
	t.Helper()
	_, simulator := binaries(t)
	caFile := filepath.Join(t.TempDir(), "sim-ca.pem")
	argv := append([]string{kind, "--listen", "127.0.0.1:0", "--tls", "--ca-out", caFile}, args...)
	cmd := exec.Command(simulator, argv...)
	s := &Sim{stderr: &syncBuffer{}}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tokenkeeper-sim: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ready := readReady(t, stdout, s.stderr)
	s.URL, s.CAFile = ready.URL, ready.CAFile
	s.HTTP = trusting(t, s.CAFile)
	return s
}

func readReady(t testing.TB, stdout interface{ Read([]byte) (int, error) }, stderr *syncBuffer) sim.Ready {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		var r sim.Ready
		if !ok || json.Unmarshal([]byte(line), &r) != nil || r.URL == "" {
			t.Fatalf("tokenkeeper-sim: no ready line (got %q); stderr:\n%s", line, stderr.String())
		}
		return r
	case <-time.After(15 * time.Second):
		t.Fatalf("tokenkeeper-sim: not ready after 15s; stderr:\n%s", stderr.String())
	}
	return sim.Ready{}
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

// Stderr is what the simulator logged so far.
func (s *Sim) Stderr() string { return s.stderr.String() }

// writeFile writes a 0600 file in a fresh temp dir and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
