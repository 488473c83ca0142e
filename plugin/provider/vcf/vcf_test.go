package vcf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	simvcf "github.com/tokenkeeper/tokenkeeper/internal/sim/vcf"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

func TestLoginRefreshRevoke(t *testing.T) {
	l := newLab(t, nil)
	p := l.provider(adminUser, adminPass)
	ctx := t.Context()

	g, err := p.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.TokenType != "Bearer" || g.HeaderName != provider.HeaderAuthorization ||
		g.AccessLifetime != 7*time.Minute || g.Refresh.IsZero() || g.RefreshLifetime != DefaultRefreshLifetime {
		t.Fatalf("grant %+v", g)
	}
	if got := l.domains("POST", g); got != 202 {
		t.Fatalf("access token rejected: %d", got)
	}
	if got := l.seen.last(); got.ctype != "application/json" {
		t.Fatalf("login content type %q", got.ctype)
	}

	l.clock.Advance(5 * time.Minute)
	r, err := p.Refresh(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	last := l.seen.last()
	if last.method != "PATCH" || last.body != g.Refresh.Reveal() || last.ctype != "application/json" || last.auth {
		t.Fatalf("refresh sent %s ctype %q auth %v body raw=%v", last.method, last.ctype, last.auth, last.body == g.Refresh.Reveal())
	}
	if !r.Refresh.IsZero() || r.AccessLifetime != 7*time.Minute || r.Access.Equal(g.Access) {
		t.Fatalf("refreshed grant %+v", r)
	}
	if got := l.domains("GET", r); got != 200 {
		t.Fatalf("refreshed token rejected: %d", got)
	}

	if err := p.Revoke(ctx, g); err != nil {
		t.Fatal(err)
	}
	if last := l.seen.last(); last.method != "DELETE" || last.body != g.Refresh.Reveal() {
		t.Fatal("revoke did not send the raw id")
	}
	if err := p.Revoke(ctx, g); err != nil {
		t.Fatalf("revoke of a gone token: %v", err)
	}
	if err := p.Revoke(ctx, provider.Grant{Access: g.Access}); err != nil {
		t.Fatalf("revoke without refresh: %v", err)
	}
	st := l.sim.Stats()
	if st.Logins != 1 || st.Refreshes != 1 || st.Revocations != 1 || st.ActiveSessions != 0 {
		t.Fatalf("stats %+v", st)
	}
	_, err = p.Refresh(ctx, g)
	if pe := perr(t, err, provider.ErrRefreshRejected); pe.Status != 404 || pe.Code != "REFRESH_TOKEN_NOT_FOUND" {
		t.Fatalf("refresh after revoke: %v", err)
	}
}

func TestWireVariants(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*simvcf.Options)
	}{
		{"login 200", func(o *simvcf.Options) { o.LoginStatus = 200 }},
		{"refreshToken as string", func(o *simvcf.Options) { o.RefreshTokenAsString = true }},
		{"quoted refresh answer", func(o *simvcf.Options) { o.QuotedRefreshResponse = true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, tc.mod)
			p := l.provider(adminUser, adminPass)
			g, err := p.Login(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.Refresh(t.Context(), g)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.domains("GET", r); got != 200 {
				t.Fatalf("refreshed token rejected: %d", got)
			}
		})
	}
}

func TestParseAccess(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"raw", "eyJ.a.b", "eyJ.a.b"},
		{"raw with newline", "eyJ.a.b\r\n", "eyJ.a.b"},
		{"quoted", `"eyJ.a.b"`, "eyJ.a.b"},
		{"quoted with spaces", ` "eyJ.a.b" ` + "\n", "eyJ.a.b"},
		{"object", `{"accessToken":"eyJ.a.b","refreshToken":{"id":"x"}}`, "eyJ.a.b"},
		{"empty", "", ""},
		{"empty string", `""`, ""},
		{"unterminated quote", `"eyJ.a.b`, ""},
		{"object without token", `{"message":"no"}`, ""},
		{"html", "<html><body>oops</body></html>", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseAccess([]byte(tc.body))
			if ok != (tc.want != "") || got.Reveal() != tc.want {
				t.Fatalf("got %v ok=%v", got.Reveal() == tc.want, ok)
			}
		})
	}
}

func TestParsePair(t *testing.T) {
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"object id", `{"accessToken":"a.b.c","refreshToken":{"id":"r1"}}`, true},
		{"string id", `{"accessToken":"a.b.c","refreshToken":"r1"}`, true},
		{"no refresh", `{"accessToken":"a.b.c"}`, false},
		{"null refresh", `{"accessToken":"a.b.c","refreshToken":null}`, false},
		{"no access", `{"refreshToken":{"id":"r1"}}`, false},
		{"not json", `a.b.c`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, r, err := parsePair([]byte(tc.body))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if tc.ok && (a.Reveal() != "a.b.c" || r.Reveal() != "r1") {
				t.Fatal("wrong values")
			}
		})
	}
}

func TestLoginRejected(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*simvcf.Options)
		status   int
		code     string
		password string
	}{
		{"wrong password 400", nil, 400, "BAD_CREDENTIALS", "wrong"},
		{"wrong password 401", func(o *simvcf.Options) { o.BadCredentialsStatus = 401 }, 401, "BAD_CREDENTIALS", "wrong"},
		{"locked 400", nil, 400, "USER_ACCOUNT_LOCKED", viewPass},
		{"locked 401", func(o *simvcf.Options) { o.LockedStatus = 401 }, 401, "USER_ACCOUNT_LOCKED", viewPass},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, tc.mod)
			if tc.code == "USER_ACCOUNT_LOCKED" {
				bad := l.provider(viewUser, "wrong")
				for range 5 {
					_, _ = bad.Login(t.Context())
				}
			}
			_, err := l.provider(viewUser, tc.password).Login(t.Context())
			pe := perr(t, err, provider.ErrCredentialsRejected)
			if pe.Status != tc.status || pe.Code != tc.code || pe.Op != "login" || pe.Path != "/v1/tokens" || pe.Method != "POST" {
				t.Fatalf("error %+v", pe)
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name  string
		fault string
		op    string // login | refresh | revoke
		kind  error
	}{
		{"login 503", `{"path":"/v1/tokens","status":503}`, "login", provider.ErrUnavailable},
		{"login 429", `{"path":"/v1/tokens","status":429}`, "login", provider.ErrUnavailable},
		{"login 500", `{"path":"/v1/tokens","status":500}`, "login", provider.ErrUnavailable},
		{"login 403", `{"path":"/v1/tokens","status":403}`, "login", provider.ErrForbidden},
		{"login 404", `{"path":"/v1/tokens","status":404}`, "login", provider.ErrBadConfig},
		{"login 302", `{"path":"/v1/tokens","status":302}`, "login", provider.ErrBadConfig},
		{"login 418", `{"path":"/v1/tokens","status":418}`, "login", provider.ErrProtocol},
		{"login reset", `{"path":"/v1/tokens","reset":true}`, "login", provider.ErrUnavailable},
		{"login timeout", `{"path":"/v1/tokens","delay":"5s"}`, "login", provider.ErrUnavailable},
		{"refresh 400", `{"path":"/v1/tokens/access-token/refresh","status":400}`, "refresh", provider.ErrRefreshRejected},
		{"refresh 401", `{"path":"/v1/tokens/access-token/refresh","status":401}`, "refresh", provider.ErrRefreshRejected},
		{"refresh 403", `{"path":"/v1/tokens/access-token/refresh","status":403}`, "refresh", provider.ErrForbidden},
		{"refresh 502", `{"path":"/v1/tokens/access-token/refresh","status":502}`, "refresh", provider.ErrUnavailable},
		{"refresh reset", `{"path":"/v1/tokens/access-token/refresh","reset":true}`, "refresh", provider.ErrUnavailable},
		{"refresh timeout", `{"path":"/v1/tokens/access-token/refresh","delay":"5s"}`, "refresh", provider.ErrUnavailable},
		{"revoke 503", `{"path":"/v1/tokens/refresh-token","status":503}`, "revoke", provider.ErrUnavailable},
		{"revoke 401", `{"path":"/v1/tokens/refresh-token","status":401}`, "revoke", provider.ErrRefreshRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, nil)
			// Only a delay fault needs a short client timeout; everything
			// else gets a generous one so a loaded machine cannot flake.
			timeout := 10 * time.Second
			if strings.Contains(tc.fault, "delay") {
				timeout = 500 * time.Millisecond
			}
			p := l.newProvider(Config{Username: adminUser, Password: &staticSecret{v: adminPass}}, timeout)
			var g provider.Grant
			if tc.op != "login" {
				var err error
				if g, err = l.provider(adminUser, adminPass).Login(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			l.simPost("/_sim/faults", tc.fault)
			var err error
			switch tc.op {
			case "login":
				_, err = p.Login(t.Context())
			case "refresh":
				_, err = p.Refresh(t.Context(), g)
			case "revoke":
				err = p.Revoke(t.Context(), g)
			}
			perr(t, err, tc.kind)
		})
	}
}

func TestRefreshRejectedAfterExpiry(t *testing.T) {
	l := newLab(t, func(o *simvcf.Options) { o.RefreshTTL = 2 * time.Hour })
	p := l.provider(adminUser, adminPass)
	g, err := p.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	l.clock.Advance(2 * time.Hour)
	_, err = p.Refresh(t.Context(), g)
	perr(t, err, provider.ErrRefreshRejected)

	g, _ = p.Login(t.Context())
	l.simPost("/_sim/expire", `{"what":"refresh"}`)
	_, err = p.Refresh(t.Context(), g)
	perr(t, err, provider.ErrRefreshRejected)
	_, err = p.Refresh(t.Context(), provider.Grant{})
	perr(t, err, provider.ErrRefreshRejected)
}

func TestForbiddenResourceIsRoleNotToken(t *testing.T) {
	l := newLab(t, nil)
	g, err := l.provider(viewUser, viewPass).Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := l.domains("GET", g); got != 200 {
		t.Fatalf("viewer GET: %d", got)
	}
	if got := l.domains("POST", g); got != 403 {
		t.Fatalf("viewer POST: %d", got)
	}
	l.simPost("/_sim/expire", `{"what":"access"}`)
	if got := l.domains("GET", g); got != 401 {
		t.Fatalf("expired token: %d", got)
	}
}

func TestTLSWithoutCAFile(t *testing.T) {
	l := newLab(t, nil)
	p, err := New(Config{URL: l.srv.URL, Username: adminUser, Password: &staticSecret{v: adminPass}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Login(t.Context())
	if pe := perr(t, err, provider.ErrBadConfig); !strings.Contains(pe.Error(), "ca_file") {
		t.Fatalf("no ca_file hint: %v", pe)
	}
	if l.sim.Stats().LoginFailures != 0 {
		t.Fatal("credentials reached an unverified server")
	}
}

func TestAPIKey(t *testing.T) {
	l := newLab(t, nil)
	key := &staticSecret{v: apiKey}
	p := l.newProvider(Config{APIKey: key}, 10*time.Second)
	g, err := p.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := l.domains("POST", g); got != 202 {
		t.Fatalf("service user: %d", got)
	}
	if c, _ := p.Credential(t.Context()); !c.Equal(provider.CredentialID(apiKey)) {
		t.Fatal("api key credential")
	}
	key.set("revoked-key")
	_, err = p.Login(t.Context())
	perr(t, err, provider.ErrCredentialsRejected)
}

func TestCredential(t *testing.T) {
	l := newLab(t, nil)
	pw := &staticSecret{v: adminPass}
	p := l.newProvider(Config{Username: adminUser, Password: pw}, time.Second)
	a, err := p.Credential(t.Context())
	sum := sha256.Sum256([]byte(adminUser + "\x00" + adminPass))
	if err != nil || a.Reveal() != hex.EncodeToString(sum[:]) {
		t.Fatalf("credential is not SHA-256(user NUL password): %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", a, a, a); strings.Contains(s, a.Reveal()[:16]) {
		t.Fatal("the credential prints its value")
	}
	pw.set("rotated")
	if b, _ := p.Credential(t.Context()); b.Equal(a) || b.IsZero() {
		t.Fatal("credential did not follow the secret")
	}
	notFound := errors.New("env VCF_PASSWORD not set")
	p = l.newProvider(Config{Username: adminUser, Password: &staticSecret{err: notFound}}, time.Second)
	_, err = p.Login(t.Context())
	if perr(t, err, provider.ErrBadConfig); !errors.Is(err, notFound) {
		t.Fatalf("resolve error lost: %v", err)
	}
	p = l.newProvider(Config{Username: adminUser, Password: &staticSecret{}}, time.Second)
	_, err = p.Login(t.Context())
	perr(t, err, provider.ErrBadConfig)
}

func TestNewValidates(t *testing.T) {
	pw := &staticSecret{v: "x"}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no url", Config{Username: "u", Password: pw}},
		{"ftp", Config{URL: "ftp://h", Username: "u", Password: pw}},
		{"userinfo", Config{URL: "https://u:p@h", Username: "u", Password: pw}},
		{"query", Config{URL: "https://h/?x=1", Username: "u", Password: pw}},
		{"no credential", Config{URL: "https://h"}},
		{"no username", Config{URL: "https://h", Password: pw}},
		{"both", Config{URL: "https://h", Username: "u", Password: pw, APIKey: pw}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, provider.ErrBadConfig) {
				t.Fatalf("got %v", err)
			}
			if strings.Contains(err.Error(), ":p@") {
				t.Fatal("error quotes URL credentials")
			}
		})
	}
	p, err := New(Config{URL: "https://sddc.lab.local/", Username: "u", Password: pw})
	if err != nil || p.base.String() != "https://sddc.lab.local" {
		t.Fatalf("base %q, %v", p.base, err)
	}
}

func TestContextCanceled(t *testing.T) {
	l := newLab(t, nil)
	l.simPost("/_sim/faults", `{"path":"/v1/tokens","delay":"5s"}`)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := l.provider(adminUser, adminPass).Login(ctx)
	if perr(t, err, provider.ErrUnavailable); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline not visible: %v", err)
	}
}

func TestOddServers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		check   func(t *testing.T, g provider.Grant, err error)
	}{
		{"opaque access token", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"accessToken":"opaque-token","refreshToken":{"id":"r"}}`))
		}, func(t *testing.T, g provider.Grant, err error) {
			if err != nil || g.AccessLifetime != DefaultAccessLifetime {
				t.Fatalf("lifetime %v, %v", g.AccessLifetime, err)
			}
		}},
		{"garbage 200", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`<html>portal</html>`))
		}, func(t *testing.T, _ provider.Grant, err error) { perr(t, err, provider.ErrBadConfig) }}, // another server at url
		{"HTML 502", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(502)
			_, _ = w.Write([]byte(`<html>bad gateway</html>`))
		}, func(t *testing.T, _ provider.Grant, err error) { perr(t, err, provider.ErrUnavailable) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, ca := tlsServer(t, tc.handler)
			hc, _ := provider.NewHTTPClient(provider.HTTPOptions{CAFile: ca})
			p, err := New(Config{URL: srv.URL, HTTPClient: hc, Username: "u", Password: &staticSecret{v: "p"}})
			if err != nil {
				t.Fatal(err)
			}
			g, err := p.Login(t.Context())
			tc.check(t, g, err)
		})
	}
}
