package vcf

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/simtest"
	simvcf "github.com/tokenkeeper/tokenkeeper/internal/sim/vcf"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

var _ keeper.Provider = (*Provider)(nil)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

const (
	adminUser = "svc-automation@vsphere.local"
	adminPass = "Sup3r=S3cret:pass!"
	viewUser  = "viewer@vsphere.local"
	viewPass  = "V1ewer-pass"
	apiKey    = "2f0c1e8e-api-key-canary"
)

// staticSecret is a Resolver with a settable value.
type staticSecret struct {
	mu  sync.Mutex
	v   string
	err error
}

func (s *staticSecret) Resolve(context.Context) (secret.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return secret.New(s.v), s.err
}

func (s *staticSecret) set(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v = v
}

// lab is a simulated SDDC Manager over TLS with a fake clock, and a
// provider pointed at it through ca_file.
type lab struct {
	t      testing.TB
	clock  *simtest.FakeClock
	sim    *simvcf.Server
	srv    *httptest.Server
	caFile string
	logs   *testutil.SyncBuffer
	seen   *recorder
}

// recorder remembers the last request (method, path, content type, body)
// the simulator received.
type recorder struct {
	mu                        sync.Mutex
	method, path, ctype, body string
	auth                      bool
}

func (r *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.method, r.path, r.ctype, r.body = req.Method, req.URL.Path, req.Header.Get("Content-Type"), string(b)
		r.auth = req.Header.Get("Authorization") != ""
		r.mu.Unlock()
		next.ServeHTTP(w, req)
	})
}

func (r *recorder) last() recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorder{method: r.method, path: r.path, ctype: r.ctype, body: r.body, auth: r.auth}
}

func newLab(t testing.TB, mod func(*simvcf.Options)) *lab {
	t.Helper()
	clock := simtest.NewFakeClock(t0)
	o := simvcf.Options{
		Clock:     clock,
		AccessTTL: 7 * time.Minute,
		Users: map[string]simvcf.User{
			adminUser: {Password: adminPass, Role: simvcf.RoleAdmin},
			viewUser:  {Password: viewPass, Role: simvcf.RoleViewer},
		},
		APIKeys: map[string]string{apiKey: "svc-api"},
	}
	if mod != nil {
		mod(&o)
	}
	s, err := simvcf.New(o)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv, ca := tlsServer(t, rec.wrap(sim.NewHandler(s)))
	return &lab{t: t, clock: clock, sim: s, srv: srv, caFile: ca, logs: &testutil.SyncBuffer{}, seen: rec}
}

func tlsServer(t testing.TB, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	cfg, caPEM, err := sim.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func (l *lab) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: l.logs, Level: hclog.Trace, JSONFormat: true})
}

// provider returns a provider for user/password over verified TLS.
func (l *lab) provider(user, pass string) *Provider {
	l.t.Helper()
	return l.newProvider(Config{Username: user, Password: &staticSecret{v: pass}}, 10*time.Second)
}

func (l *lab) newProvider(c Config, timeout time.Duration) *Provider {
	l.t.Helper()
	hc, err := provider.NewHTTPClient(provider.HTTPOptions{CAFile: l.caFile, Timeout: timeout, Logger: l.logger()})
	if err != nil {
		l.t.Fatal(err)
	}
	c.URL, c.HTTPClient, c.Logger = l.srv.URL, hc, l.logger()
	p, err := New(c)
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

// simPost calls a /_sim/ endpoint.
func (l *lab) simPost(path, body string) {
	l.t.Helper()
	resp, err := l.srv.Client().Post(l.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		l.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		l.t.Fatalf("%s: %d", path, resp.StatusCode)
	}
}

// domains calls the protected resource with a grant's header.
func (l *lab) domains(method string, g provider.Grant) int {
	l.t.Helper()
	req, _ := http.NewRequest(method, l.srv.URL+"/v1/domains", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(g.HeaderName, g.HeaderValue().Reveal())
	resp, err := l.srv.Client().Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// perr asserts err is a *provider.Error of kind and returns it.
func perr(t *testing.T, err, kind error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) || !errors.Is(err, kind) {
		t.Fatalf("error %v is not a *provider.Error of kind %v", err, kind)
	}
	return pe
}

func secretOf(v string) secret.Secret { return secret.New(v) }
