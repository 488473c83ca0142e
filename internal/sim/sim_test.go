package sim

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim/simtest"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// fakeBackend answers 200 "ok" and records Reset/Expire calls.
type fakeBackend struct {
	calls   atomic.Int64
	resets  atomic.Int64
	mu      sync.Mutex
	expired []string
}

func (f *fakeBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	_, _ = io.WriteString(w, "ok")
}
func (f *fakeBackend) Stats() Stats { return Stats{Logins: 3, APICalls: f.calls.Load()} }
func (f *fakeBackend) Reset()       { f.resets.Add(1) }
func (f *fakeBackend) Expire(what string) error {
	if what != "access" && what != "all" {
		return errors.New("unknown")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expired = append(f.expired, what)
	return nil
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestLockout(t *testing.T) {
	c := simtest.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := NewLockout(c)
	for i := range 4 {
		l.Fail("alice")
		c.Advance(40 * time.Second)
		if l.Locked("alice") {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	// 4 failures at 0,40,80,120 s; the 5th at 160 s is within 180 s of the first.
	l.Fail("alice")
	if !l.Locked("alice") {
		t.Fatal("not locked after 5 failures within 180 s")
	}
	if l.Locked("bob") {
		t.Fatal("lockout is not per user")
	}
	c.Advance(899 * time.Second)
	l.Fail("alice") // does not extend
	if !l.Locked("alice") {
		t.Fatal("unlocked before 900 s")
	}
	c.Advance(time.Second)
	if l.Locked("alice") {
		t.Fatal("still locked after 900 s")
	}

	// Failures spread wider than the window never lock.
	for range 10 {
		l.Fail("carol")
		c.Advance(46 * time.Second)
	}
	if l.Locked("carol") {
		t.Fatal("locked although never 5 failures within 180 s")
	}
	// A success starts the count over.
	for range 4 {
		l.Fail("dave")
	}
	l.Succeed("dave")
	l.Fail("dave")
	if l.Locked("dave") {
		t.Fatal("success did not reset the failure count")
	}
	l.Exempt = map[string]bool{"admin": true}
	for range 6 {
		l.Fail("admin")
	}
	if l.Locked("admin") {
		t.Fatal("exempt user locked")
	}
}

func TestHandlerSimEndpoints(t *testing.T) {
	b := &fakeBackend{}
	srv := httptest.NewServer(NewHandler(b))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, k := range []string{"logins", "loginFailures", "refreshes", "refreshFailures", "revocations", "apiCalls", "unauthorized", "activeSessions"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("stats lack key %q: %v", k, raw)
		}
	}
	if raw["logins"] != 3 {
		t.Errorf("logins = %d, want 3", raw["logins"])
	}
	tests := []struct {
		path, body string
		want       int
	}{
		{"/_sim/expire", `{"what":"access"}`, 204},
		{"/_sim/expire", `{"what":"bogus"}`, 400},
		{"/_sim/expire", `{"wat":"access"}`, 400},
		{"/_sim/reset", ``, 204},
		{"/_sim/faults", `{"path":"/x"}`, 400},
		{"/_sim/faults", `{"path":"/x","delay":"soon"}`, 400},
		{"/_sim/faults", `{"path":"/x","status":1000}`, 400},
		{"/_sim/nothing", `{}`, 404},
	}
	for _, tc := range tests {
		t.Run(tc.path+tc.body, func(t *testing.T) {
			if got := post(t, srv.URL+tc.path, tc.body).StatusCode; got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
		})
	}
	if b.resets.Load() != 1 || len(b.expired) != 1 {
		t.Fatalf("resets=%d expired=%v", b.resets.Load(), b.expired)
	}
}

func TestFaults(t *testing.T) {
	b := &fakeBackend{}
	srv := httptest.NewServer(NewHandler(b))
	defer srv.Close()
	get := func(path string) (int, error) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	post(t, srv.URL+"/_sim/faults", `{"path":"/v1/tokens","status":503,"count":2}`)
	post(t, srv.URL+"/_sim/faults", `{"path":"/v1/*","status":429}`)
	for i, want := range []int{503, 503, 429, 200} {
		if got, err := get("/v1/tokens"); err != nil || got != want {
			t.Fatalf("request %d: status %d (%v), want %d", i, got, err, want)
		}
	}
	if got, _ := get("/other"); got != 200 {
		t.Fatalf("unmatched path got %d", got)
	}

	post(t, srv.URL+"/_sim/faults", `{"path":"/slow","delay":"50ms"}`)
	start := time.Now()
	if got, _ := get("/slow"); got != 200 {
		t.Fatalf("delay-only fault changed the status to %d", got)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("delay-only fault did not stall (%v)", d)
	}

	post(t, srv.URL+"/_sim/faults", `{"path":"/reset","reset":true}`)
	if _, err := get("/reset"); err == nil {
		t.Fatal("reset fault answered")
	}
	if got, _ := get("/reset"); got != 200 {
		t.Fatal("reset fault not consumed")
	}

	post(t, srv.URL+"/_sim/faults", `{"path":"/gone","status":500,"count":5}`)
	post(t, srv.URL+"/_sim/reset", ``)
	if got, _ := get("/gone"); got != 200 {
		t.Fatalf("reset did not clear faults: %d", got)
	}
}

func TestRunTLS(t *testing.T) {
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var logs testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, RunOptions{TLS: true, CAOut: caPath, Log: &logs}, &fakeBackend{}, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var ready Ready
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	if !strings.HasPrefix(ready.URL, "https://127.0.0.1:") || ready.CAFile != caPath {
		t.Fatalf("ready = %+v", ready)
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host}}}
		resp, err := c.Get(ready.URL + "/v1/domains?secret=x")
		if err != nil {
			t.Fatalf("verified TLS as %s: %v", host, err)
		}
		resp.Body.Close()
		c.CloseIdleConnections()
	}
	if _, err := http.Get(ready.URL); err == nil {
		t.Fatal("system roots trusted the self-signed CA")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "GET /v1/domains 200") || strings.Contains(out, "secret") {
		t.Fatalf("request log = %q", out)
	}
}

// A client that gives up during a delay fault must get no answer at all:
// an implicit 200 could race the client's own timeout and be read.
func TestDelayAbortsWhenClientGivesUp(t *testing.T) {
	h := NewHandler(&fakeBackend{})
	add := httptest.NewRequest("POST", "/_sim/faults", strings.NewReader(`{"path":"/slow","delay":"1h"}`))
	h.ServeHTTP(httptest.NewRecorder(), add)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
		}
		if rec.Flushed || rec.Body.Len() != 0 || len(rec.Result().Header) != 0 {
			t.Fatal("something was answered")
		}
	}()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil).WithContext(ctx))
	t.Fatal("handler returned normally")
}

func TestPendingFaultsListedWhileConsumed(t *testing.T) {
	srv := httptest.NewServer(NewHandler(&fakeBackend{}))
	defer srv.Close()
	post(t, srv.URL+"/_sim/faults", `{"path":"/x","status":500,"count":40}`)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if resp, err := http.Get(srv.URL + "/x"); err == nil {
					resp.Body.Close()
				}
				if resp, err := http.Get(srv.URL + "/_sim/faults"); err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	resp, err := http.Get(srv.URL + "/_sim/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []Fault
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list) != 0 {
		t.Fatalf("pending after all were consumed: %v %v", list, err)
	}
}
