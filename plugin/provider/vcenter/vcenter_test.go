package vcenter

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	simvc "github.com/tokenkeeper/tokenkeeper/internal/sim/vcenter"
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
	canaryUser     = "svc-canary@vsphere.local"
	canaryPassword = "canary-Pa55-vc-7d41e"
)

// staticSecret is a Resolver returning a fixed value.
type staticSecret struct{ v string }

func (s staticSecret) Resolve(context.Context) (secret.Secret, error) { return secret.New(s.v), nil }

// failingSecret is a Resolver that cannot read its source.
type failingSecret struct{}

func (failingSecret) Resolve(context.Context) (secret.Secret, error) {
	return secret.Secret{}, errors.New("no such file")
}

// counted is a simulator whose requests are counted by "METHOD path".
type counted struct {
	b     *simvc.Backend
	srv   *httptest.Server
	calls map[string]*atomic.Int64
}

func (c *counted) n(key string) int64 {
	if v := c.calls[key]; v != nil {
		return v.Load()
	}
	return 0
}

// newSim starts the simulator with the canary user; the counted keys are
// fixed up front so the handler only reads the map.
func newSim(t *testing.T, o simvc.Options) *counted {
	t.Helper()
	o.Users = append(o.Users, simvc.User{Name: canaryUser, Password: canaryPassword})
	b, err := simvc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	c := &counted{b: b, calls: map[string]*atomic.Int64{}}
	for _, k := range []string{"POST /api/session", "POST /rest/com/vmware/cis/session", "GET /api/session",
		"DELETE /api/session", "DELETE /rest/com/vmware/cis/session"} {
		c.calls[k] = &atomic.Int64{}
	}
	h := sim.NewHandler(b)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			key += "?" + r.URL.RawQuery // a /rest probe is POST ?~action=get
		}
		if v := c.calls[key]; v != nil {
			v.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func newProvider(t *testing.T, url string, tune ...func(*Config)) *Provider {
	t.Helper()
	cfg := Config{URL: url, Username: strings.ToUpper(canaryUser), Password: staticSecret{canaryPassword},
		Logger: hclog.NewNullLogger()}
	for _, f := range tune {
		f(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// inventory calls the protected resource of the generation with g's header.
func inventory(t *testing.T, url string, g provider.Grant, api bool) int {
	t.Helper()
	path := "/rest/vcenter/vm"
	if api {
		path = "/api/vcenter/vm"
	}
	req, _ := http.NewRequest(http.MethodGet, url+path, nil)
	req.Header.Set(g.HeaderName, g.HeaderValue().Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The whole session on both generations: login, the header the grant
// names accepted by the inventory, probe, logout, and a probe of the
// logged-out session that asks for a login. A server without /api/session
// is remembered: the second login goes straight to /rest.
func TestSessionBothGenerations(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "api", true: "rest"}[legacy], func(t *testing.T) {
			s := newSim(t, simvc.Options{LegacyREST: legacy})
			var logs bytes.Buffer
			p := newProvider(t, s.srv.URL, func(c *Config) {
				c.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace, JSONFormat: true})
			})
			ctx := context.Background()
			g, err := p.Login(ctx)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if g.HeaderName != "vmware-api-session-id" || g.HeaderValue().Reveal() != g.Access.Reveal() ||
				g.TokenType != TokenType || g.IdleTimeout != DefaultIdleTimeout || !g.Refresh.IsZero() {
				t.Fatalf("grant: header %q type %q idle %v", g.HeaderName, g.TokenType, g.IdleTimeout)
			}
			if code := inventory(t, s.srv.URL, g, !legacy); code != 200 {
				t.Fatalf("inventory with the grant's header: %d", code)
			}
			if err := p.Probe(ctx, g); err != nil {
				t.Fatalf("probe: %v", err)
			}
			if err := p.Revoke(ctx, g); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if err := p.Probe(ctx, g); !errors.Is(err, provider.ErrRefreshRejected) {
				t.Fatalf("probe after logout: %v, want ErrRefreshRejected", err)
			}
			if err := p.Revoke(ctx, g); err != nil {
				t.Fatalf("revoking a gone session: %v", err)
			}
			if _, err := p.Login(ctx); err != nil {
				t.Fatalf("second login: %v", err)
			}
			wantAPI, wantREST := int64(2), int64(0)
			if legacy {
				wantAPI, wantREST = 1, 2
			}
			if a, r := s.n("POST /api/session"), s.n("POST /rest/com/vmware/cis/session"); a != wantAPI || r != wantREST {
				t.Fatalf("logins at /api %d, at /rest %d; want %d and %d", a, r, wantAPI, wantREST)
			}
			if st := s.b.Stats(); st.Logins != 2 || st.Revocations != 1 || st.LoginFailures != 0 {
				t.Fatalf("simulator stats %+v", st)
			}
			low := strings.ToLower(logs.String())
			if !strings.Contains(low, "logged in") || strings.Contains(low, "canary") || strings.Contains(low, strings.ToLower(g.Access.Reveal())) {
				t.Fatal("the debug log names the password or the session id, or logs nothing")
			}
		})
	}
}

// A wrong password is a rejection the lockout guard counts (not NotSent),
// in one request; the error carries the vSphere error type and message
// and never the password or user.
func TestWrongPasswordRejected(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		s := newSim(t, simvc.Options{LegacyREST: legacy})
		p := newProvider(t, s.srv.URL, func(c *Config) { c.Password = staticSecret{canaryPassword + "-wrong"} })
		_, err := p.Login(context.Background())
		if !errors.Is(err, provider.ErrCredentialsRejected) || errors.Is(err, provider.ErrNotSent) {
			t.Fatalf("legacy %v: %v, want a sent rejection", legacy, err)
		}
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Status != 401 || pe.Code != "UNAUTHENTICATED" || pe.Message != "Authentication required." {
			t.Fatalf("legacy %v: %#v", legacy, pe)
		}
		if strings.Contains(strings.ToLower(err.Error()), "canary") {
			t.Fatalf("the error names a secret: %v", err)
		}
		if st := s.b.Stats(); st.LoginFailures != 1 {
			t.Fatalf("legacy %v: %d failed logins, want 1", legacy, st.LoginFailures)
		}
	}
}

// The grant's idle timeout is the profile's, else vCenter's default; the
// keeper needs it to probe a session that may have idled out.
func TestIdleTimeoutFromProfile(t *testing.T) {
	s := newSim(t, simvc.Options{})
	g, err := newProvider(t, s.srv.URL, func(c *Config) { c.IdleTimeout = 5 * time.Minute }).Login(context.Background())
	if err != nil || g.IdleTimeout != 5*time.Minute || g.IdleUnknown {
		t.Fatalf("idle %v (unknown %v), %v", g.IdleTimeout, g.IdleUnknown, err)
	}
	if _, err := New(Config{URL: s.srv.URL, Username: "u", Password: staticSecret{"p"}, IdleTimeout: -time.Second}); !errors.Is(err, provider.ErrBadConfig) {
		t.Fatalf("a negative idle timeout: %v", err)
	}
}

// Failures before anything is sent, and answers that are no session.
func TestLoginFailureClasses(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, simvc.Options{})
	_, err := newProvider(t, s.srv.URL, func(c *Config) { c.Password = failingSecret{} }).Login(ctx)
	if !errors.Is(err, provider.ErrNotSent) || !errors.Is(err, provider.ErrBadConfig) {
		t.Fatalf("unreadable password: %v", err)
	}
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"nothing at either path", 404, `{"error_type":"NOT_FOUND","messages":[]}`, provider.ErrBadConfig},
		{"id with a space", 201, `"abc def"`, provider.ErrProtocol},
		{"id with CRLF", 201, `"abc\r\nX-Evil: 1"`, provider.ErrProtocol},
		{"empty id", 201, `""`, provider.ErrProtocol},
		{"html", 200, `<html>login</html>`, provider.ErrProtocol},
		{"busy", 503, `{"error_type":"SERVICE_UNAVAILABLE","messages":[{"id":"x","default_message":"busy"}]}`, provider.ErrUnavailable},
		{"bad request", 400, `{"error_type":"INVALID_ARGUMENT","messages":[]}`, provider.ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := newProvider(t, srv.URL).Login(ctx)
			if !errors.Is(err, tt.want) || errors.Is(err, provider.ErrCredentialsRejected) {
				t.Fatalf("%v, want %v", err, tt.want)
			}
			var pe *provider.Error
			if tt.status == 503 && (!errors.As(err, &pe) || pe.RetryAfter != 7*time.Second || pe.Message != "busy") {
				t.Fatalf("503: %#v", pe)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Fatalf("the error quotes the id: %v", err)
			}
		})
	}
}

// A login answer that echoes the password — whole, base64 in the Basic
// header, a part of it, upper-cased — is withheld, not quoted.
func TestEchoedPasswordWithheld(t *testing.T) {
	echoes := []string{
		canaryPassword,
		"Basic " + base64.StdEncoding.EncodeToString([]byte(strings.ToUpper(canaryUser)+":"+canaryPassword)),
		strings.ToUpper(canaryPassword[7:14]),
		"user SVC-CANARY@VSPHERE.LOCAL:" + canaryPassword + " denied",
	}
	for _, echo := range echoes {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error_type":"` + echo + `","messages":[{"id":"x","default_message":"bad ` + echo + `"}]}`))
		}))
		_, err := newProvider(t, srv.URL).Login(context.Background())
		srv.Close()
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Message != provider.Withheld || pe.Code != "" {
			t.Fatalf("echo %d: %v", len(echo), err)
		}
		low := strings.ToLower(err.Error())
		if strings.Contains(low, "canary") || strings.Contains(low, strings.ToLower(canaryPassword[7:14])) {
			t.Fatalf("echo leaked: %v", err)
		}
	}
}

// The error shapes of both generations decode to (type, message).
func TestDecodeError(t *testing.T) {
	tests := []struct{ body, code, msg string }{
		{`{"error_type":"UNAUTHENTICATED","messages":[{"id":"a.b","default_message":"Authentication required."}]}`, "UNAUTHENTICATED", "Authentication required."},
		{`{"type":"com.vmware.vapi.std.errors.unauthenticated","value":{"messages":[{"id":"a.b","default_message":"Nope"}]}}`, "UNAUTHENTICATED", "Nope"},
		{`{"type":"com.vmware.vapi.std.errors.not_found","value":{"error_type":"NOT_FOUND","messages":[]}}`, "NOT_FOUND", ""},
		{`{"messages":[{"id":"vapi.x","default_message":"m"}]}`, "vapi.x", "m"},
		{``, "", ""},
		{`Not found`, "", ""},
		{`{"error_type":`, "", ""},
	}
	for _, tt := range tests {
		if code, msg := decodeError([]byte(tt.body)); code != tt.code || msg != tt.msg {
			t.Errorf("%s: (%q, %q), want (%q, %q)", tt.body, code, msg, tt.code, tt.msg)
		}
	}
}

// The account is the SSO user name lower-cased at the server's origin;
// the credential changes with the password.
func TestAccountAndCredential(t *testing.T) {
	p := newProvider(t, "https://VC.example.com/")
	a := p.Account()
	if a.Provider != "vcenter" || a.Origin != "https://vc.example.com:443" || a.Principal != canaryUser || a.Kind != provider.KindUser {
		t.Fatalf("account %+v", a)
	}
	c1, err := p.Credential(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := newProvider(t, "https://vc.example.com", func(c *Config) { c.Password = staticSecret{"other"} }).Credential(context.Background())
	if c1.Equal(c2) || c1.IsZero() {
		t.Fatal("the credential does not follow the password")
	}
	if _, err := p.Refresh(context.Background(), provider.Grant{}); !errors.Is(err, provider.ErrRefreshRejected) {
		t.Fatalf("refresh: %v", err)
	}
}
