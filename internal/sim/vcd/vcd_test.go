package vcd

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/simtest"
)

type env struct {
	t     *testing.T
	clock *simtest.FakeClock
	b     *Backend
	srv   *httptest.Server
}

func newEnv(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	clock := simtest.NewFakeClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	o := Options{
		Clock: clock,
		Users: []User{
			{Name: "alice", Org: "ExampleOrg", Password: "pw-alice", Role: "Organization Administrator"},
			{Name: "admin", Org: "System", Password: "pw-admin", Role: "System Administrator"},
		},
		APITokens:       []Grant{{Token: "api-1", Owner: "alice@ExampleOrg"}},
		ServiceAccounts: []Grant{{Token: "sa-1", Owner: "robot@ExampleOrg"}},
	}
	if mutate != nil {
		mutate(&o)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.NewHandler(b))
	t.Cleanup(srv.Close)
	return &env{t: t, clock: clock, b: b, srv: srv}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a request; headers is name, value pairs.
func (e *env) do(method, path string, body io.Reader, headers ...string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func basic(user, pw string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pw)
	return r.Header.Get("Authorization")
}

func (e *env) cloudLogin(path, user, pw, version string) answer {
	return e.do("POST", path, nil, "Authorization", basic(user, pw), "Accept", "application/json;version="+version)
}

func (e *env) exchange(org, tok string) answer {
	path := "/oauth/tenant/" + org + "/token"
	if org == "System" {
		path = "/oauth/provider/token"
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}.Encode()
	return e.do("POST", path, strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded")
}

func TestVersionsDocument(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.APIVersions = []string{"35.0", "33.0", "38.0", "36.0", "37.0", "34.0"} })
	a := e.do("GET", "/api/versions", nil)
	var doc struct {
		XMLName  xml.Name
		Versions []struct {
			Deprecated       bool   `xml:"deprecated,attr"`
			Version          string `xml:"Version"`
			LoginURL         string `xml:"LoginUrl"`
			ProviderLoginURL string `xml:"ProviderLoginUrl"`
		} `xml:"VersionInfo"`
	}
	if a.status != 200 || xml.Unmarshal([]byte(a.body), &doc) != nil {
		t.Fatalf("GET /api/versions: %d", a.status)
	}
	if doc.XMLName.Space != "http://www.vmware.com/vcloud/versions" || doc.XMLName.Local != "SupportedVersions" {
		t.Fatalf("root %v", doc.XMLName)
	}
	var listed []string
	for _, v := range doc.Versions {
		listed = append(listed, v.Version)
		cloud := strings.HasSuffix(v.LoginURL, "/cloudapi/1.0.0/sessions")
		if num(v.Version) >= 36 != cloud || (v.ProviderLoginURL != "") != cloud {
			t.Errorf("version %s: LoginUrl %s ProviderLoginUrl %q", v.Version, v.LoginURL, v.ProviderLoginURL)
		}
		if v.Deprecated != (num(v.Version) < 36) {
			t.Errorf("version %s deprecated=%v", v.Version, v.Deprecated)
		}
	}
	if slices.IsSortedFunc(listed, compare) || len(listed) != 6 {
		t.Fatalf("versions must be listed unsorted: %v", listed)
	}
}

func TestProducts(t *testing.T) {
	tests := []struct {
		product              string
		cloud, legacy, oauth bool
	}{
		{"9.7", false, true, false}, {"10.0", true, true, false}, {"10.4", true, true, true}, {"10.5", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.product, func(t *testing.T) {
			vs, err := ProductVersions(tt.product)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, func(o *Options) { o.APIVersions = vs })
			top := vs[len(vs)-1]
			got := []bool{
				e.cloudLogin("/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "pw-alice", top).status == 200,
				e.do("POST", "/api/sessions", nil, "Authorization", basic("alice@ExampleOrg", "pw-alice"),
					"Accept", "application/*+xml;version="+top).status == 200,
				e.exchange("ExampleOrg", "api-1").status == 200,
			}
			if !slices.Equal(got, []bool{tt.cloud, tt.legacy, tt.oauth}) {
				t.Fatalf("cloudapi/legacy/oauth available = %v, want %v", got, []bool{tt.cloud, tt.legacy, tt.oauth})
			}
		})
	}
	if _, err := ProductVersions("11.0"); err == nil {
		t.Fatal("unknown product accepted")
	}
}

func TestNotAcceptable(t *testing.T) {
	e := newEnv(t, nil)
	for _, accept := range []string{"application/json;version=99.0", "application/json"} {
		a := e.do("POST", "/cloudapi/1.0.0/sessions", nil, "Authorization", basic("alice@ExampleOrg", "pw-alice"), "Accept", accept)
		var body struct{ MinorErrorCode, Message string }
		if a.status != 406 || json.Unmarshal([]byte(a.body), &body) != nil || body.MinorErrorCode != "NOT_ACCEPTABLE" ||
			!strings.Contains(body.Message, "37.0") {
			t.Fatalf("Accept %q: %d %s", accept, a.status, a.body)
		}
	}
	wildcard := e.do("POST", "/cloudapi/1.0.0/sessions", nil, "Authorization", basic("alice@ExampleOrg", "pw-alice"),
		"Accept", "application/*;version=37.0")
	if wildcard.status != 200 {
		t.Fatalf("Accept application/*;version=37.0: %d", wildcard.status)
	}
	a := e.do("GET", "/api/org", nil, "Accept", "application/*+xml;version=1.5")
	if a.status != 406 || !strings.Contains(a.body, `minorErrorCode="NOT_ACCEPTABLE"`) ||
		!strings.HasPrefix(a.header.Get("Content-Type"), "application/vnd.vmware.vcloud.error+xml") {
		t.Fatalf("XML 406: %d %s %s", a.status, a.header.Get("Content-Type"), a.body)
	}
}

func TestCloudLogin(t *testing.T) {
	tests := []struct {
		name, path, user, pw string
		status               int
		code                 string
	}{
		{"tenant", "/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "pw-alice", 200, ""},
		{"tenant org case", "/cloudapi/1.0.0/sessions", "alice@exampleorg", "pw-alice", 200, ""},
		{"provider", "/cloudapi/1.0.0/sessions/provider", "admin@System", "pw-admin", 200, ""},
		{"bad password", "/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "nope", 401, "UNAUTHORIZED"},
		{"tenant on provider path", "/cloudapi/1.0.0/sessions/provider", "alice@ExampleOrg", "pw-alice", 401, "UNAUTHORIZED"},
		{"provider on tenant path", "/cloudapi/1.0.0/sessions", "admin@System", "pw-admin", 401, "UNAUTHORIZED"},
		{"owner without password", "/cloudapi/1.0.0/sessions", "robot@ExampleOrg", "", 401, "UNAUTHORIZED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			a := e.cloudLogin(tt.path, tt.user, tt.pw, "37.0")
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.status != 200 {
				var body struct{ MinorErrorCode string }
				_ = json.Unmarshal([]byte(a.body), &body)
				if body.MinorErrorCode != tt.code || a.header.Get(headerAccessToken) != "" {
					t.Fatalf("error body %s", a.body)
				}
				return
			}
			tok := a.header.Get(headerAccessToken)
			if a.header.Get(headerTokenType) != "Bearer" || a.header.Get(headerVCloudAuth) != "" {
				t.Fatalf("headers %v", a.header)
			}
			claims := jwt.MapClaims{}
			if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return e.b.key, nil },
				jwt.WithTimeFunc(e.clock.Now)); err != nil {
				t.Fatalf("JWT: %v", err)
			}
			exp, _ := claims.GetExpirationTime()
			iat, _ := claims.GetIssuedAt()
			if exp.Sub(iat.Time) != 24*time.Hour {
				t.Fatalf("exp-iat = %v, want the absolute cap", exp.Sub(iat.Time))
			}
			var body struct {
				ID                        string  `json:"id"`
				SessionIdleTimeoutMinutes float64 `json:"sessionIdleTimeoutMinutes"`
			}
			if json.Unmarshal([]byte(a.body), &body) != nil || !strings.HasPrefix(body.ID, "urn:vcloud:session:") ||
				body.SessionIdleTimeoutMinutes != 30 {
				t.Fatalf("body %s", a.body)
			}
		})
	}
}

func TestMissingHeaderIs403(t *testing.T) {
	e := newEnv(t, nil)
	if a := e.do("POST", "/cloudapi/1.0.0/sessions", nil, "Accept", "application/json;version=37.0"); a.status != 403 {
		t.Fatalf("login without Authorization: %d", a.status)
	}
	if a := e.do("GET", "/cloudapi/1.0.0/orgs", nil, "Accept", "application/json;version=37.0"); a.status != 403 {
		t.Fatalf("resource without a token: %d", a.status)
	}
	a := e.do("GET", "/api/org", nil, "Accept", "application/*+xml;version=37.0", "Authorization", "Bearer nope")
	if a.status != 401 || !strings.Contains(a.body, `majorErrorCode="401"`) {
		t.Fatalf("resource with a bad token: %d %s", a.status, a.body)
	}
	if st := e.b.Stats(); st.APICalls != 2 || st.Unauthorized != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLegacyLoginAndResources(t *testing.T) {
	vs, _ := ProductVersions("9.7")
	e := newEnv(t, func(o *Options) { o.APIVersions = vs })
	a := e.do("POST", "/api/sessions", nil, "Authorization", basic("alice@ExampleOrg", "pw-alice"),
		"Accept", "application/*+xml;version=32.0")
	tok := a.header.Get(headerVCloudAuth)
	if a.status != 200 || len(tok) != 32 || !strings.Contains(a.body, `<Session xmlns="http://www.vmware.com/vcloud/v1.5"`) ||
		a.header.Get(headerAccessToken) == "" {
		t.Fatalf("legacy login: %d %q %s", a.status, tok, a.body)
	}
	xmlAccept := "application/*+xml;version=32.0"
	if r := e.do("GET", "/api/org", nil, "Accept", xmlAccept, headerVCloudAuth, tok); r.status != 200 ||
		!strings.Contains(r.body, `name="ExampleOrg"`) {
		t.Fatalf("GET /api/org: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/session", nil, "Accept", xmlAccept, headerVCloudAuth, tok); r.status != 200 {
		t.Fatalf("GET /api/session: %d", r.status)
	}
	if r := e.do("DELETE", "/api/session", nil, "Accept", xmlAccept, headerVCloudAuth, tok); r.status != 204 {
		t.Fatalf("DELETE /api/session: %d", r.status)
	}
	if r := e.do("GET", "/api/session", nil, "Accept", xmlAccept, headerVCloudAuth, tok); r.status != 401 {
		t.Fatalf("after logout: %d", r.status)
	}
	if st := e.b.Stats(); st.Logins != 1 || st.Revocations != 1 || st.ActiveSessions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestProviderLegacyBlocked(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.BlockProviderLegacyLogin = true })
	a := e.do("POST", "/api/sessions", nil, "Authorization", basic("admin@System", "pw-admin"), "Accept", "application/*+xml;version=37.0")
	if a.status != 401 {
		t.Fatalf("blocked provider legacy login: %d", a.status)
	}
}

// TestAuthSchemeAndHeaderNamesIgnoreCase: clients send "bearer" (VMware's
// go-vcloud-director does) and header names in any case; RFC 7235 and
// RFC 9110 make both case-insensitive, as Cloud Director is.
func TestAuthSchemeAndHeaderNamesIgnoreCase(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do("POST", "/cloudapi/1.0.0/sessions", nil,
		"authorization", "basic "+strings.TrimPrefix(basic("alice@ExampleOrg", "pw-alice"), "Basic "),
		"accept", "application/json;version=37.0")
	if a.status != 200 {
		t.Fatalf("login with a lower-case Basic scheme: %d %s", a.status, a.body)
	}
	tok := a.header.Get(headerAccessToken)
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER ", "bEaReR   "} {
		if got := e.do("GET", "/cloudapi/1.0.0/sessions/current", nil,
			"Authorization", scheme+tok, "Accept", "application/json;version=37.0"); got.status != 200 {
			t.Errorf("scheme %q: %d %s", scheme, got.status, got.body)
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/cloudapi/1.0.0/orgs", nil)
	req.Header["authorization"] = []string{"bearer " + tok} // sent as written, not canonicalized
	req.Header["ACCEPT"] = []string{"application/json;version=37.0"}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("lower-case header names: %d", resp.StatusCode)
	}
	for _, bad := range []string{"Bearer", "Bearer ", "Bearerx " + tok, "Basic " + tok} {
		if got := e.do("GET", "/cloudapi/1.0.0/sessions/current", nil,
			"Authorization", bad, "Accept", "application/json;version=37.0"); got.status != 403 {
			t.Errorf("Authorization %q is not a bearer token: %d, want 403 (no token)", strings.ReplaceAll(bad, tok, "TOKEN"), got.status)
		}
	}
}
