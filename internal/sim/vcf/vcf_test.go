package vcf

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/simtest"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	clock *simtest.FakeClock
	srv   *Server
	url   string
}

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	clock := simtest.NewFakeClock(t0)
	o := Options{
		Clock: clock,
		Users: map[string]User{
			"admin@vsphere.local": {Password: "Adm1n!pass", Role: RoleAdmin},
			"op@vsphere.local":    {Password: "0p:pass=x", Role: RoleOperator},
			"view@vsphere.local":  {Password: "V1ew!pass", Role: RoleViewer},
			"default-role":        {Password: "pw"},
		},
		APIKeys: map[string]string{"key-123": "svc-automation"},
	}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.NewHandler(s))
	t.Cleanup(hs.Close)
	return &env{t: t, clock: clock, srv: s, url: hs.URL}
}

type reply struct {
	status int
	ctype  string
	body   string
}

func (e *env) do(method, path, ctype, body string, hdr ...string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

func (e *env) login(user, pass string) reply {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	return e.do("POST", "/v1/tokens", "application/json", string(b))
}

type pair struct {
	Access  string `json:"accessToken"`
	Refresh struct {
		ID string `json:"id"`
	} `json:"refreshToken"`
}

func (e *env) mustLogin(user, pass string) pair {
	e.t.Helper()
	r := e.login(user, pass)
	if r.status != http.StatusCreated {
		e.t.Fatalf("login %s: status %d", user, r.status)
	}
	var p pair
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) domains(method, token string) reply {
	e.t.Helper()
	if token == "" {
		return e.do(method, "/v1/domains", "application/json", "{}")
	}
	return e.do(method, "/v1/domains", "application/json", "{}", "Authorization", "Bearer "+token)
}

func (e *env) stats() sim.Stats { return e.srv.Stats() }

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		ErrorCode string `json:"errorCode"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	return v.ErrorCode
}

func TestLoginIssuesDocumentedTokenPair(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AccessTTL = 7 * time.Minute })
	r := e.login("view@vsphere.local", "V1ew!pass")
	if r.status != 201 || r.ctype != "application/json" {
		t.Fatalf("status %d content-type %q", r.status, r.ctype)
	}
	var p pair
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(p.Refresh.ID); err != nil {
		t.Fatalf("refresh id is not a uuid: %v", err)
	}
	tok, _, err := jwt.NewParser().ParseUnverified(p.Access, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Method.Alg() != "HS256" {
		t.Fatalf("alg %s", tok.Method.Alg())
	}
	c := tok.Claims.(jwt.MapClaims)
	for _, k := range []string{"jti", "iat", "nbf", "exp", "sub", "iss", "aud", "user", "name", "scope"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	if _, ok := c["roles"]; ok {
		t.Error("VCF tokens carry no roles claim")
	}
	if c["iss"] != "vcf-auth" || c["aud"] != "sddc-services" || c["sub"] != "view@vsphere.local" {
		t.Errorf("claims %v", c)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 420 || int64(iat) != t0.Unix() {
		t.Errorf("exp-iat = %v, iat = %v", exp-iat, iat)
	}
	if sc, _ := c["scope"].([]any); len(sc) != 1 || sc[0] != "OTHER_READ" {
		t.Errorf("viewer scope %v", c["scope"])
	}
	if st := e.stats(); st.Logins != 1 || st.ActiveSessions != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestLoginVariants(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LoginStatus = 200; o.RefreshTokenAsString = true })
	r := e.login("admin@vsphere.local", "Adm1n!pass")
	var v struct {
		Refresh string `json:"refreshToken"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &v) != nil || v.Refresh == "" {
		t.Fatalf("status %d body form wrong", r.status)
	}
}

func TestLoginFailures(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		badStatus         int
		wantStatus        int
		wantCode          string
	}{
		{"wrong password", "application/json", `{"username":"admin@vsphere.local","password":"nope"}`, 0, 400, "BAD_CREDENTIALS"},
		{"wrong password, 401 server", "application/json", `{"username":"admin@vsphere.local","password":"nope"}`, 401, 401, "BAD_CREDENTIALS"},
		{"unknown user", "application/json", `{"username":"ghost","password":"x"}`, 0, 400, "BAD_CREDENTIALS"},
		{"missing password", "application/json", `{"username":"admin@vsphere.local"}`, 0, 400, "INVALID_INPUT"},
		{"malformed", "application/json", `{"username":`, 0, 400, "INVALID_INPUT"},
		{"bad api key", "application/json", `{"apiKey":"key-999"}`, 0, 400, "BAD_CREDENTIALS"},
		{"no content type", "", `{"username":"admin@vsphere.local","password":"Adm1n!pass"}`, 0, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"form content type", "application/x-www-form-urlencoded", `username=a`, 0, 415, "UNSUPPORTED_MEDIA_TYPE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.BadCredentialsStatus = tc.badStatus })
			r := e.do("POST", "/v1/tokens", tc.ctype, tc.body)
			if r.status != tc.wantStatus || errorCode(t, r.body) != tc.wantCode {
				t.Fatalf("status %d code %q, want %d %q", r.status, errorCode(t, r.body), tc.wantStatus, tc.wantCode)
			}
			if strings.Contains(r.body, "nope") || strings.Contains(r.body, "Adm1n") {
				t.Fatal("error body echoes the password")
			}
			if tc.wantStatus != 415 && e.stats().LoginFailures != 1 {
				t.Fatalf("loginFailures = %d", e.stats().LoginFailures)
			}
		})
	}
}

func TestAPIKeyLogin(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", "/v1/tokens", "application/json; charset=utf-8", `{"apiKey":"key-123"}`)
	if r.status != 201 {
		t.Fatalf("status %d", r.status)
	}
	var p pair
	_ = json.Unmarshal([]byte(r.body), &p)
	if got := e.domains("POST", p.Access).status; got != 202 {
		t.Fatalf("service user (ADMIN) POST /v1/domains = %d", got)
	}
}

func TestLockout(t *testing.T) {
	for _, lockedStatus := range []int{0, 401} {
		e := newEnv(t, func(o *Options) { o.LockedStatus = lockedStatus; o.LockoutExempt = []string{"admin@vsphere.local"} })
		want := 400
		if lockedStatus != 0 {
			want = lockedStatus
		}
		for i := range 5 {
			if r := e.login("op@vsphere.local", "wrong"); errorCode(t, r.body) != "BAD_CREDENTIALS" {
				t.Fatalf("failure %d: %s", i+1, errorCode(t, r.body))
			}
			e.clock.Advance(30 * time.Second)
		}
		r := e.login("op@vsphere.local", "0p:pass=x")
		if r.status != want || errorCode(t, r.body) != "USER_ACCOUNT_LOCKED" {
			t.Fatalf("locked login: %d %s", r.status, errorCode(t, r.body))
		}
		// Locked at the 5th failure (t=120 s) until t=1020 s; now t=150 s.
		e.clock.Advance(869 * time.Second)
		if r := e.login("op@vsphere.local", "0p:pass=x"); r.status != want {
			t.Fatalf("unlocked before 900 s: %d", r.status)
		}
		e.clock.Advance(time.Second)
		if r := e.login("op@vsphere.local", "0p:pass=x"); r.status != 201 {
			t.Fatalf("still locked after 900 s: %d", r.status)
		}
		if st := e.stats(); st.LoginFailures != 7 || st.Logins != 1 {
			t.Fatalf("stats %+v", st)
		}
		for range 6 {
			e.login("admin@vsphere.local", "wrong")
		}
		if r := e.login("admin@vsphere.local", "Adm1n!pass"); r.status != 201 {
			t.Fatalf("exempt admin locked: %d", r.status)
		}
	}
}

func TestLockoutWindow(t *testing.T) {
	e := newEnv(t, nil)
	for range 8 {
		e.login("op@vsphere.local", "wrong")
		e.clock.Advance(46 * time.Second) // never 5 within 180 s
	}
	if r := e.login("op@vsphere.local", "0p:pass=x"); r.status != 201 {
		t.Fatalf("locked by failures spread over more than 180 s: %d", r.status)
	}
}

// TestAuthSchemeIgnoresCase: the Bearer scheme and header names are
// case-insensitive (RFC 7235 §2.1, RFC 9110 §5.1), as on SDDC Manager.
func TestAuthSchemeIgnoresCase(t *testing.T) {
	e := newEnv(t, nil)
	p := e.mustLogin("admin@vsphere.local", "Adm1n!pass")
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER ", "bEaReR   "} {
		if r := e.do("GET", "/v1/domains", "", "", "Authorization", scheme+p.Access); r.status != 200 {
			t.Errorf("scheme %q: %d %s", scheme, r.status, r.body)
		}
	}
	req, _ := http.NewRequest("GET", e.url+"/v1/domains", nil)
	req.Header["authorization"] = []string{"bearer " + p.Access} // sent as written
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("lower-case header name: %d", resp.StatusCode)
	}
	for _, bad := range []string{"Bearer", "Bearerx " + p.Access, "Basic " + p.Access} {
		if r := e.do("GET", "/v1/domains", "", "", "Authorization", bad); r.status != 401 {
			t.Errorf("Authorization %q: %d, want 401", strings.ReplaceAll(bad, p.Access, "TOKEN"), r.status)
		}
	}
}
