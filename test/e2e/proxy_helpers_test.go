package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcf"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// proxyOnly skips the long proxy acceptance runs unless TK_E2E_PROXY is
// set (make e2e-proxy): they take minutes of wall clock and CPU.
func proxyOnly(t *testing.T) {
	t.Helper()
	binaries(t)
	if os.Getenv("TK_E2E_PROXY") == "" {
		t.Skip("proxy acceptance run: set TK_E2E_PROXY=1 (make e2e-proxy)")
	}
}

// otherUser is the credential of user nobody, to run a client as another
// uid; it skips the test unless this process may (root) and nobody exists.
func otherUser(t *testing.T) *syscall.Credential {
	t.Helper()
	binaries(t)
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another uid; running as uid", os.Getuid())
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user 'nobody' to run a client as:", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// openToOthers makes socket and the directories on its way (dirs, and its
// own) reachable by every user, as a careless admin might, until the test
// ends (the agent's cleanup checks the modes again).
func openToOthers(t *testing.T, socket string, dirs ...string) {
	t.Helper()
	for _, p := range append(dirs, filepath.Dir(socket)) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(p, 0o700) })
	}
	if err := os.Chmod(socket, 0o777); err != nil {
		t.Fatal(err)
	}
}

// proxyReady is the line `tokenkeeper proxy` prints once it serves.
type proxyReady struct {
	Profile, URL, Socket, HeaderName, HeaderFile string
}

// runningProxy is a `tokenkeeper proxy` of a tkEnv.
type runningProxy struct {
	*proc
	proxyReady
	log *testutil.SyncBuffer // its stderr: one line per request
}

// startProxy runs `tokenkeeper --log-level info proxy ARGS…` in tk's
// environment, waits for its ready line and stops it (SIGTERM, by PID)
// at cleanup. Its stderr goes to tk.seen too, for the canary checks.
func (tk *tkEnv) startProxy(t testing.TB, args ...string) *runningProxy {
	t.Helper()
	cmd := exec.Command(tk.bin, append([]string{"--log-level", "info", "proxy"}, args...)...)
	cmd.Env, cmd.Dir = tk.env, tk.dir
	rp := &runningProxy{log: &testutil.SyncBuffer{}}
	cmd.Stderr = io.MultiWriter(rp.log, tk.seen)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	rp.proc = startProc(t, cmd)
	line := firstLine(t, "tokenkeeper proxy", stdout, rp.log)
	if err := json.Unmarshal([]byte(line), &rp.proxyReady); err != nil || rp.URL == "" {
		t.Fatalf("tokenkeeper proxy: no ready line (got %q); stderr:\n%s", line, rp.log.String())
	}
	return rp
}

// client is an HTTP client of the proxy: over its socket, or its port.
func (rp *runningProxy) client() *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	if rp.Socket != "" {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", rp.Socket)
		}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get sends GET path through the proxy with the header pairs hdr.
func (rp *runningProxy) get(t testing.TB, path string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rp.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := rp.client().Do(req)
	if err != nil {
		t.Fatalf("GET %s through the proxy: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// peakRSS is a process's resident-memory high-water mark in bytes.
func peakRSS(t testing.TB, pid int) int64 { return procMemory(t, pid, "VmHWM") }

// procMemory reads a memory field of /proc/PID/status (VmRSS, VmHWM) in bytes.
func procMemory(t testing.TB, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("read status of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s for %d", field, pid)
	return 0
}

// proxyUpstream is an SDDC Manager for the proxy tests: the VCF simulator
// (internal/sim/vcf, the package tokenkeeper-sim runs) behind TLS with
// HTTP/2 on 127.0.0.1, plus resources a real API has and the simulator
// does not, each checking the bearer with the simulator itself:
//
//	PUT|POST /bulk      reads the body; answers {"bytes":N,"crc":C}
//	GET /bulk?bytes=N   streams N bytes of pattern
//	GET /redirect       302 to Elsewhere+"/steal" (another port)
//
// It records every Authorization (and x-vcloud-authorization) value it
// received; Elsewhere records every request that reaches it.
type proxyUpstream struct {
	URL, CAFile string
	Sim         *vcf.Server
	Elsewhere   *httptest.Server

	mu        sync.Mutex // guards creds, protos and strayHits
	creds     []string   // credential header values received
	protos    map[string]int
	strayHits int // requests that reached Elsewhere
}

func startProxyUpstream(t testing.TB) *proxyUpstream {
	t.Helper()
	s, err := vcf.New(vcf.Options{Users: map[string]vcf.User{e2eUser: {Password: e2ePassword, Role: vcf.RoleAdmin}}})
	if err != nil {
		t.Fatal(err)
	}
	u := &proxyUpstream{Sim: s, protos: map[string]int{}}
	u.Elsewhere = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		u.mu.Lock()
		u.strayHits++
		u.mu.Unlock()
		_, _ = io.WriteString(w, "stolen")
	}))
	t.Cleanup(u.Elsewhere.Close)
	cfg, caPEM, err := sim.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	u.CAFile = filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(u.CAFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(u)
	srv.EnableHTTP2 = true
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

func (u *proxyUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.protos[r.Proto]++
	for _, h := range []string{"Authorization", "X-Vcloud-Authorization"} {
		u.creds = append(u.creds, r.Header.Values(h)...)
	}
	u.mu.Unlock()
	switch r.URL.Path {
	case "/bulk", "/redirect":
		if !u.authorized(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	default:
		u.Sim.ServeHTTP(w, r)
		return
	}
	switch {
	case r.URL.Path == "/redirect":
		http.Redirect(w, r, u.Elsewhere.URL+"/steal", http.StatusFound)
	case r.Method == http.MethodPut || r.Method == http.MethodPost:
		h := crc32.NewIEEE()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"bytes": n, "crc": h.Sum32()})
	default:
		n, _ := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		_, _ = io.Copy(w, io.LimitReader(&pattern{}, n))
	}
}

// authorized asks the simulator whether r's bearer opens GET /v1/domains.
func (u *proxyUpstream) authorized(r *http.Request) bool {
	probe := httptest.NewRequest(http.MethodGet, "/v1/domains", nil)
	probe.Header.Set("Authorization", r.Header.Get("Authorization"))
	rec := httptest.NewRecorder()
	u.Sim.ServeHTTP(rec, probe)
	return rec.Code == http.StatusOK
}

// credentials are the credential header values upstream received.
func (u *proxyUpstream) credentials() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.creds...)
}

// protocols counts the requests received by protocol ("HTTP/2.0").
func (u *proxyUpstream) protocols() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.protos)
}

func (u *proxyUpstream) stray() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.strayHits
}

// upstreamConfig is a one-profile config ("sddc") for u.
func upstreamConfig(u *proxyUpstream) string {
	return fmt.Sprintf("profiles:\n  sddc:\n    provider: vcf\n    url: %s\n    ca_file: %s\n    username: %s\n    password: {env: TK_E2E_PW}\n",
		u.URL, u.CAFile, e2eUser)
}

// pattern is an endless, cheap, non-constant byte stream: the same bytes
// at the same offsets whatever the sizes of the reads.
type pattern struct{ off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		o := p.off + int64(i)
		b[i] = byte(o*7 + o>>9)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// patternCRC is the CRC-32 of the first n bytes of pattern.
func patternCRC(n int64) uint32 {
	h := crc32.NewIEEE()
	_, _ = io.Copy(h, io.LimitReader(&pattern{}, n))
	return h.Sum32()
}
