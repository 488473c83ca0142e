package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// simStats are the simulator's counters (GET /_sim/stats).
type simStats struct {
	Logins          int64 `json:"logins"`
	LoginFailures   int64 `json:"loginFailures"`
	Refreshes       int64 `json:"refreshes"`
	RefreshFailures int64 `json:"refreshFailures"`
	Revocations     int64 `json:"revocations"`
	APICalls        int64 `json:"apiCalls"`
	Unauthorized    int64 `json:"unauthorized"`
	ActiveSessions  int64 `json:"activeSessions"`
}

// upstream is a running `tokenkeeper-sim KIND --tls`.
type upstream struct {
	URL    string `json:"url"`
	CAFile string `json:"caFile"`
	http   *http.Client
}

// startSim runs the simulator on 127.0.0.1:0 until the test ends.
func startSim(t *testing.T, kind string, args ...string) *upstream {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "sim-ca.pem")
	argv := append([]string{kind, "--listen", "127.0.0.1:0", "--tls", "--ca-out", ca}, args...)
	cmd := exec.Command(filepath.Join(binDir(t), "tokenkeeper-sim"), argv...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(cmd) })
	line := make(chan []byte, 1)
	go func() {
		r := bufio.NewReader(out)
		l, _ := r.ReadBytes('\n')
		line <- l
		_, _ = io.Copy(io.Discard, r)
	}()
	u := &upstream{}
	select {
	case l := <-line:
		if json.Unmarshal(l, u) != nil || u.URL == "" {
			t.Fatalf("tokenkeeper-sim %s: no ready line; stderr:\n%s", kind, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("tokenkeeper-sim %s: not ready in 30s", kind)
	}
	u.http = trustingClient(t, u.CAFile)
	return u
}

// stop ends a child with SIGTERM, then SIGKILL after 10 s.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (u *upstream) caPEM(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(u.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (u *upstream) stats(t *testing.T) simStats {
	t.Helper()
	resp, err := u.http.Get(u.URL + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s simStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// accepts reports whether the simulator's protected resource at path
// takes the header.
func (u *upstream) accepts(name, value, path string) (bool, error) {
	req, _ := http.NewRequest(http.MethodGet, u.URL+path, nil)
	req.Header.Set(name, value)
	req.Header.Set("Accept", "application/json;version=37.0")
	resp, err := u.http.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

func trustingClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	c, err := newTrusting(caFile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newTrusting is an HTTP client trusting only the CA in caFile.
func newTrusting(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}, nil
}

// lockedBuffer collects a child's stderr or a logger's lines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
