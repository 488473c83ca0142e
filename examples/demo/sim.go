package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// simulator is a running tokenkeeper-sim.
type simulator struct {
	URL    string `json:"url"`
	CAFile string `json:"caFile"`
	cmd    *exec.Cmd
	http   *http.Client
}

// stats mirrors GET /_sim/stats.
type stats struct {
	Logins         int64 `json:"logins"`
	Refreshes      int64 `json:"refreshes"`
	Revocations    int64 `json:"revocations"`
	APICalls       int64 `json:"apiCalls"`
	Unauthorized   int64 `json:"unauthorized"`
	ActiveSessions int64 `json:"activeSessions"`
}

func (s stats) String() string {
	return fmt.Sprintf("logins=%d refreshes=%d revocations=%d apiCalls=%d unauthorized=%d activeSessions=%d",
		s.Logins, s.Refreshes, s.Revocations, s.APICalls, s.Unauthorized, s.ActiveSessions)
}

// startSim runs the simulator with TLS and waits for its ready line.
func startSim(ctx context.Context, path, dir string, args ...string) (*simulator, error) {
	argv := append([]string{"vcf", "--tls", "--ca-out", filepath.Join(dir, "sim-ca.pem")}, args...)
	cmd := exec.Command(path, argv...)
	cmd.Stderr = io.Discard // one line per request; the narration says what matters
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("could not start %s (run `make build` first): %w", path, err)
	}
	s := &simulator{cmd: cmd}
	line := make(chan []byte, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Bytes()
	}()
	select {
	case b := <-line:
		if err := json.Unmarshal(b, s); err != nil || s.URL == "" {
			s.stop()
			return nil, fmt.Errorf("simulator: no ready line (%q)", b)
		}
	case <-time.After(10 * time.Second):
		s.stop()
		return nil, errors.New("simulator: not ready after 10s")
	}
	if s.http, err = trusting(s.CAFile); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// stop ends the simulator: SIGTERM, then SIGKILL after 3 s.
func (s *simulator) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func (s *simulator) stats(ctx context.Context) (stats, error) {
	var st stats
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/_sim/stats", nil)
	resp, err := s.http.Do(req)
	if err != nil {
		return st, fmt.Errorf("could not read simulator stats: %w", err)
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// expire ends the live tokens of a kind ("access", "refresh", "all").
func (s *simulator) expire(ctx context.Context, what string) error {
	body, _ := json.Marshal(map[string]string{"what": what})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/_sim/expire", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("could not expire simulator tokens: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("could not expire simulator tokens: HTTP %d", resp.StatusCode)
	}
	return nil
}

// trusting is an HTTP transport trusting only the simulator's CA.
func trusting(caFile string) (*http.Client, error) {
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
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}
