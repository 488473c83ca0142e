package vcd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/simtest"
	simvcd "github.com/tokenkeeper/tokenkeeper/internal/sim/vcd"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

var (
	_ keeper.Provider = (*Provider)(nil)
	_ keeper.Prober   = (*Provider)(nil)
)

// Canary values: none may ever show up in an error or a log line.
const (
	canaryPassword = "canary-Pa55-vcd-91c2"
	canaryAPIToken = "canary-apitoken-3b7d55"
	canarySAToken  = "canary-satoken-8e1f09"
)

// staticSecret is a Resolver returning a fixed value.
type staticSecret struct{ v string }

func (s staticSecret) Resolve(context.Context) (secret.Secret, error) { return secret.New(s.v), nil }

// memorySecret is a RotatingSecret kept in memory, recording stores.
type memorySecret struct {
	rot     sync.Mutex // the rotation lock, held from BeginRotation to Close
	mu      sync.Mutex // guards the fields below
	v       string
	stores  []string
	failErr error // Commit (and storing a held token) fails with it when set
	// reread, when set, is what Reread returns (a writer that does not
	// take the lock changed the value).
	reread string
}

func (m *memorySecret) Resolve(context.Context) (secret.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return secret.New(m.v), nil
}

func (m *memorySecret) store(v secret.Secret) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failErr != nil {
		return &secret.NotStoredError{Target: "memory", Recovery: "memory.recovery", Err: m.failErr}
	}
	m.v = v.Reveal()
	m.stores = append(m.stores, v.Reveal())
	return nil
}

func (m *memorySecret) BeginRotation(context.Context) (Rotation, error) {
	m.rot.Lock()
	return &memoryRotation{m: m}, nil
}

func (m *memorySecret) StoreHeld(_ context.Context, h Held) error {
	m.rot.Lock()
	defer m.rot.Unlock()
	cur := secret.New(m.value())
	if !h.Replaces.IsZero() && !cur.Equal(h.Token) && !cur.Equal(h.Replaces) {
		return secret.ErrSuperseded
	}
	return m.store(h.Token)
}

// memoryRotation is one rotation of a memorySecret.
type memoryRotation struct {
	m      *memorySecret
	closed bool
}

func (r *memoryRotation) Value() secret.Secret {
	v, _ := r.m.Resolve(context.Background())
	return v
}

func (r *memoryRotation) Reread(context.Context) (secret.Secret, error) {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	if r.m.reread != "" {
		r.m.v, r.m.reread = r.m.reread, ""
	}
	return secret.New(r.m.v), nil
}

func (r *memoryRotation) Commit(_ context.Context, v secret.Secret) error { return r.m.store(v) }

func (r *memoryRotation) Close() error {
	if !r.closed {
		r.closed = true
		r.m.rot.Unlock()
	}
	return nil
}

func (m *memorySecret) value() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v
}

// fixture is a simulated Cloud Director with a fake clock.
type fixture struct {
	clock *simtest.FakeClock
	b     *simvcd.Backend
	srv   *httptest.Server
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, versions []string) *fixture {
	t.Helper()
	clock := simtest.NewFakeClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	b, err := simvcd.New(simvcd.Options{
		Clock:       clock,
		APIVersions: versions,
		Users: []simvcd.User{
			{Name: "alice", Org: "ExampleOrg", Password: canaryPassword, Role: "Organization Administrator"},
			{Name: "admin", Org: "System", Password: canaryPassword, Role: "System Administrator"},
		},
		APITokens:       []simvcd.Grant{{Token: canaryAPIToken, Owner: "alice@ExampleOrg"}},
		ServiceAccounts: []simvcd.Grant{{Token: canarySAToken, Owner: "robot@ExampleOrg"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.NewHandler(b))
	t.Cleanup(srv.Close)
	return &fixture{clock: clock, b: b, srv: srv, logs: &bytes.Buffer{}}
}

func (f *fixture) provider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	cfg.URL = f.srv.URL
	cfg.HTTPClient = f.srv.Client()
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: f.logs, JSONFormat: true})
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// call uses g on a protected resource and returns the status.
func (f *fixture) call(t *testing.T, g provider.Grant, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	accept := jsonAccept(g.Meta[metaVersion])
	if strings.HasPrefix(path, "/api/") {
		accept = xmlAccept(g.Meta[metaVersion])
	}
	req.Header.Set("Accept", accept)
	req.Header.Set(g.HeaderName, g.HeaderValue().Reveal())
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func versionsOf(t *testing.T, product string) []string {
	t.Helper()
	vs, err := simvcd.ProductVersions(product)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestLoginFlows(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name     string
		product  string
		cfg      Config
		header   string
		mode     string
		version  string
		lifetime time.Duration
		resource string
	}{
		{"tenant cloudapi", "10.4", Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}},
			provider.HeaderAuthorization, modeCloud, "37.0", day, "/cloudapi/1.0.0/orgs"},
		{"system cloudapi", "10.5", Config{Org: "system", Username: "admin", Password: staticSecret{canaryPassword}},
			provider.HeaderAuthorization, modeCloud, "38.0", day, "/api/org"},
		{"pinned version", "10.4", Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}, APIVersion: "36"},
			provider.HeaderAuthorization, modeCloud, "36.0", day, "/cloudapi/1.0.0/orgs"},
		{"legacy forced", "10.4", Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}, LegacyLogin: true},
			provider.HeaderVCloudAuth, modeLegacy, "37.0", 0, "/api/org"},
		{"legacy on a 9.7 server", "9.7", Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}},
			provider.HeaderVCloudAuth, modeLegacy, "32.0", 0, "/api/org"},
		{"api token", "10.4", Config{Org: "ExampleOrg", APIToken: staticSecret{canaryAPIToken}},
			provider.HeaderAuthorization, modeCloud, "37.0", day, "/cloudapi/1.0.0/orgs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, versionsOf(t, tt.product))
			p := f.provider(t, tt.cfg)
			ctx := context.Background()
			g, err := p.Login(ctx)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if g.HeaderName != tt.header || g.Meta[metaMode] != tt.mode || g.Meta[metaVersion] != tt.version {
				t.Fatalf("grant header %q mode %q version %q, want %q %q %q",
					g.HeaderName, g.Meta[metaMode], g.Meta[metaVersion], tt.header, tt.mode, tt.version)
			}
			// The simulator's 30 min, as reported; a 9.x server has no
			// CloudAPI to report it.
			wantIdle := 30 * time.Minute
			if tt.product == "9.7" {
				wantIdle = 0
			}
			if g.AccessLifetime != tt.lifetime || g.IdleTimeout != wantIdle || g.IdleUnknown != (wantIdle == 0) || !g.Refresh.IsZero() {
				t.Fatalf("lifetime %v idle %v (unknown %v) refresh set %v", g.AccessLifetime, g.IdleTimeout, g.IdleUnknown, !g.Refresh.IsZero())
			}
			if st := f.call(t, g, tt.resource); st != http.StatusOK {
				t.Fatalf("GET %s with the grant: %d", tt.resource, st)
			}
			if err := p.Probe(ctx, g); err != nil {
				t.Fatalf("probe: %v", err)
			}
			if err := p.Revoke(ctx, g); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if n := f.b.Stats().ActiveSessions; n != 0 {
				t.Fatalf("%d active sessions after revoke", n)
			}
			if err := p.Probe(ctx, g); !errors.Is(err, provider.ErrRefreshRejected) {
				t.Fatalf("probe after revoke: %v, want ErrRefreshRejected", err)
			}
			if err := p.Revoke(ctx, g); err != nil {
				t.Fatalf("second revoke must be a no-op: %v", err)
			}
		})
	}
}

func TestIdleTimeoutSlidesAndEnds(t *testing.T) {
	f := newFixture(t, nil)
	p := f.provider(t, Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}})
	ctx := context.Background()
	g, err := p.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.clock.Advance(29 * time.Minute)
		if err := p.Probe(ctx, g); err != nil {
			t.Fatalf("probe within the sliding idle timeout: %v", err)
		}
	}
	f.clock.Advance(31 * time.Minute)
	if err := p.Probe(ctx, g); !errors.Is(err, provider.ErrRefreshRejected) {
		t.Fatalf("probe after idling out: %v", err)
	}
}

// Credential is an opaque value that changes with the secret; it is the
// full SHA-256 of the login material, never the short loggable
// fingerprint, and prints redacted.
func TestCredential(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	a := f.provider(t, Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{"one"}})
	b := f.provider(t, Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{"two"}})
	c := f.provider(t, Config{Org: "ExampleOrg", APIToken: staticSecret{"one"}})
	ca, _ := a.Credential(ctx)
	cb, _ := b.Credential(ctx)
	cc, _ := c.Credential(ctx)
	if ca.IsZero() || ca.Equal(cb) || ca.Equal(cc) || !cc.Equal(provider.CredentialID("one")) {
		t.Fatal("Credential does not tell the secrets apart")
	}
	sum := sha256.Sum256([]byte("alice@exampleorg\x00one"))
	if ca.Reveal() != hex.EncodeToString(sum[:]) {
		t.Fatal("password credential is not SHA-256(lower-cased user@org NUL password)")
	}
	// Cloud Director ignores the case of user@org: so does the guard.
	d := f.provider(t, Config{Org: "EXAMPLEORG", Username: "Alice", Password: staticSecret{"one"}})
	if cd, _ := d.Credential(ctx); !cd.Equal(ca) {
		t.Fatal("one password under two spellings of user@org are two credentials")
	}
	if s := fmt.Sprintf("%v %+v %#v %s", ca, ca, ca, ca); strings.Contains(s, ca.Reveal()[:16]) {
		t.Fatal("Credential prints its value")
	}
}

func TestNewValidates(t *testing.T) {
	pw := staticSecret{"x"}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no url", Config{Org: "o", Username: "u", Password: pw}},
		{"relative url", Config{URL: "vcd.example.com", Org: "o", Username: "u", Password: pw}},
		{"no org", Config{URL: "https://h", Username: "u", Password: pw}},
		{"no credential", Config{URL: "https://h", Org: "o"}},
		{"two credentials", Config{URL: "https://h", Org: "o", Username: "u", Password: pw, APIToken: pw}},
		{"password without user", Config{URL: "https://h", Org: "o", Password: pw}},
		{"legacy with token", Config{URL: "https://h", Org: "o", APIToken: pw, LegacyLogin: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, provider.ErrBadConfig) {
				t.Fatalf("New: %v, want ErrBadConfig", err)
			}
		})
	}
}

func TestRefreshAsksForLogin(t *testing.T) {
	p, err := New(Config{URL: "https://h", Org: "o", APIToken: staticSecret{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Refresh(context.Background(), provider.Grant{}); !errors.Is(err, provider.ErrRefreshRejected) {
		t.Fatalf("Refresh: %v", err)
	}
}
