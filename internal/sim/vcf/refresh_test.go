package vcf

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRefreshBodyForms(t *testing.T) {
	tests := []struct {
		name   string
		quoted bool // server answers the JSON-quoted form
		body   func(id string) string
	}{
		{"raw id, raw answer", false, func(id string) string { return id }},
		{"quoted id, raw answer", false, func(id string) string { return `"` + id + `"` }},
		{"raw id with newline", false, func(id string) string { return id + "\n" }},
		{"raw id, quoted answer", true, func(id string) string { return id }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.QuotedRefreshResponse = tc.quoted })
			p := e.mustLogin("admin@vsphere.local", "Adm1n!pass")
			e.clock.Advance(time.Minute)
			r := e.do("PATCH", "/v1/tokens/access-token/refresh", "application/json", tc.body(p.Refresh.ID))
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			tok := r.body
			if tc.quoted {
				if err := json.Unmarshal([]byte(r.body), &tok); err != nil {
					t.Fatalf("quoted answer: %v", err)
				}
			} else if strings.HasPrefix(r.body, `"`) {
				t.Fatal("raw answer is quoted")
			}
			if strings.Count(tok, ".") != 2 || tok == p.Access {
				t.Fatal("refresh did not answer a new JWT")
			}
			if got := e.domains("GET", tok).status; got != 200 {
				t.Fatalf("refreshed token: GET /v1/domains = %d", got)
			}
			if got := e.domains("GET", p.Access).status; got != 200 {
				t.Fatalf("old token died on refresh: %d", got)
			}
			if st := e.stats(); st.Refreshes != 1 || st.Logins != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestRefreshRejections(t *testing.T) {
	e := newEnv(t, nil)
	p := e.mustLogin("admin@vsphere.local", "Adm1n!pass")
	tests := []struct {
		name, ctype, body string
		want              int
		code              string
	}{
		{"no content type", "", p.Refresh.ID, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"text/plain", "text/plain", p.Refresh.ID, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"unknown id", "application/json", "4c1f1f4e-0000-0000-0000-000000000000", 404, "REFRESH_TOKEN_NOT_FOUND"},
		{"empty", "application/json", "", 404, "REFRESH_TOKEN_NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("PATCH", "/v1/tokens/access-token/refresh", tc.ctype, tc.body)
			if r.status != tc.want || errorCode(t, r.body) != tc.code {
				t.Fatalf("status %d code %s", r.status, errorCode(t, r.body))
			}
			if strings.Contains(r.body, p.Refresh.ID) {
				t.Fatal("error echoes the refresh id")
			}
		})
	}
	if st := e.stats(); st.RefreshFailures != 2 {
		t.Fatalf("refreshFailures = %d", st.RefreshFailures)
	}
}

func TestRefreshLifetimeFromIssue(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AccessTTL = time.Hour; o.RefreshTTL = 24 * time.Hour })
	p := e.mustLogin("admin@vsphere.local", "Adm1n!pass")
	refresh := func() int {
		return e.do("PATCH", "/v1/tokens/access-token/refresh", "application/json", p.Refresh.ID).status
	}
	for range 23 {
		e.clock.Advance(time.Hour)
		if got := refresh(); got != 200 {
			t.Fatalf("refresh within 24 h: %d", got)
		}
	}
	e.clock.Advance(59 * time.Minute)
	if got := refresh(); got != 200 {
		t.Fatalf("refresh at 23h59m: %d", got)
	}
	if e.stats().ActiveSessions != 1 {
		t.Fatal("live refresh token not counted")
	}
	e.clock.Advance(time.Minute) // 24 h after issue: refreshing did not extend it
	if got := refresh(); got != 404 {
		t.Fatalf("refresh at 24 h: %d, want 404", got)
	}
	if st := e.stats(); st.ActiveSessions != 0 || st.Refreshes != 24 || st.RefreshFailures != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, nil)
	p := e.mustLogin("admin@vsphere.local", "Adm1n!pass")
	if r := e.do("DELETE", "/v1/tokens/refresh-token", "", p.Refresh.ID); r.status != 415 {
		t.Fatalf("no content type: %d", r.status)
	}
	if r := e.do("DELETE", "/v1/tokens/refresh-token", "application/json", `"`+p.Refresh.ID+`"`); r.status != 204 || r.body != "" {
		t.Fatalf("revoke: %d %q", r.status, r.body)
	}
	if r := e.do("DELETE", "/v1/tokens/refresh-token", "application/json", p.Refresh.ID); r.status != 404 {
		t.Fatalf("second revoke: %d", r.status)
	}
	if r := e.do("PATCH", "/v1/tokens/access-token/refresh", "application/json", p.Refresh.ID); r.status != 404 {
		t.Fatalf("refresh after revoke: %d", r.status)
	}
	// A raw-body revoke works too.
	p2 := e.mustLogin("admin@vsphere.local", "Adm1n!pass")
	if r := e.do("DELETE", "/v1/tokens/refresh-token", "application/json", p2.Refresh.ID); r.status != 204 {
		t.Fatalf("raw revoke: %d", r.status)
	}
	if st := e.stats(); st.Revocations != 2 || st.ActiveSessions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

const unauthorizedBody = `{"errorCode":"Unauthorized","message":"Authorization Header is missing or not in correct format"}` + "\n"

func TestProtectedResource(t *testing.T) {
	e := newEnv(t, nil)
	admin := e.mustLogin("admin@vsphere.local", "Adm1n!pass").Access
	op := e.mustLogin("op@vsphere.local", "0p:pass=x").Access
	view := e.mustLogin("view@vsphere.local", "V1ew!pass").Access
	def := e.mustLogin("default-role", "pw").Access
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "vcf-auth", "aud": "sddc-services", "exp": t0.Add(time.Hour).Unix(), "jti": "x",
	}).SignedString([]byte("not the key"))
	tests := []struct {
		name, method, auth string
		want               int
	}{
		{"no header", "GET", "", 401},
		{"not bearer", "GET", "Basic YTpi", 401},
		{"garbage", "GET", "Bearer not-a-jwt", 401},
		{"forged", "GET", "Bearer " + forged, 401},
		{"viewer GET", "GET", "Bearer " + view, 200},
		{"viewer POST", "POST", "Bearer " + view, 403},
		{"operator POST", "POST", "Bearer " + op, 202},
		{"admin POST", "POST", "Bearer " + admin, 202},
		{"default role is ADMIN", "POST", "Bearer " + def, 202},
		{"lower-case scheme", "GET", "bearer " + view, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r reply
			if tc.auth == "" {
				r = e.do(tc.method, "/v1/domains", "application/json", "{}")
			} else {
				r = e.do(tc.method, "/v1/domains", "application/json", "{}", "Authorization", tc.auth)
			}
			if r.status != tc.want {
				t.Fatalf("status %d, want %d", r.status, tc.want)
			}
			if tc.want == 401 && r.body != unauthorizedBody {
				t.Fatalf("401 body %q", r.body)
			}
			if tc.want == 403 && errorCode(t, r.body) != "FORBIDDEN" {
				t.Fatalf("403 body %q", r.body)
			}
		})
	}
	if st := e.stats(); st.APICalls != int64(len(tests)) || st.Unauthorized != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAccessExpiry(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AccessTTL = 10 * time.Minute })
	tok := e.mustLogin("view@vsphere.local", "V1ew!pass").Access
	e.clock.Advance(10*time.Minute - time.Second)
	if got := e.domains("GET", tok).status; got != 200 {
		t.Fatalf("before exp: %d", got)
	}
	e.clock.Advance(time.Second)
	if got := e.domains("GET", tok).status; got != 401 {
		t.Fatalf("at exp: %d", got)
	}
}

func TestExpire(t *testing.T) {
	tests := []struct {
		what                string
		accessOK, refreshOK bool
	}{
		{"access", false, true},
		{"refresh", true, false},
		{"sessions", true, false},
		{"all", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.what, func(t *testing.T) {
			e := newEnv(t, nil)
			p := e.mustLogin("view@vsphere.local", "V1ew!pass")
			r := e.do("POST", "/_sim/expire", "application/json", `{"what":"`+tc.what+`"}`)
			if r.status != 204 {
				t.Fatalf("expire: %d", r.status)
			}
			if got := e.domains("GET", p.Access).status; (got == 200) != tc.accessOK {
				t.Fatalf("access after expire %s: %d", tc.what, got)
			}
			got := e.do("PATCH", "/v1/tokens/access-token/refresh", "application/json", p.Refresh.ID).status
			if (got == 200) != tc.refreshOK {
				t.Fatalf("refresh after expire %s: %d", tc.what, got)
			}
		})
	}
	e := newEnv(t, nil)
	if err := e.srv.Expire("everything"); err == nil {
		t.Fatal("unknown target accepted")
	}
}

func TestResetAndFaults(t *testing.T) {
	e := newEnv(t, nil)
	p := e.mustLogin("view@vsphere.local", "V1ew!pass")
	for range 5 {
		e.login("op@vsphere.local", "wrong")
	}
	if r := e.do("POST", "/_sim/reset", "", ""); r.status != 204 {
		t.Fatalf("reset: %d", r.status)
	}
	if st := e.stats(); st.Logins != 0 || st.LoginFailures != 0 {
		t.Fatalf("stats after reset %+v", st)
	}
	if got := e.domains("GET", p.Access).status; got != 401 {
		t.Fatalf("token survived reset: %d", got)
	}
	if r := e.login("op@vsphere.local", "0p:pass=x"); r.status != 201 {
		t.Fatalf("lockout survived reset: %d", r.status)
	}
	e.do("POST", "/_sim/faults", "application/json", `{"path":"/v1/tokens","status":503,"count":2}`)
	for i, want := range []int{503, 503, 201} {
		if got := e.login("view@vsphere.local", "V1ew!pass").status; got != want {
			t.Fatalf("login %d: %d, want %d", i, got, want)
		}
	}
	if r := e.do("GET", "/v1/tokens", "", ""); r.status != http.StatusMethodNotAllowed || errorCode(t, r.body) != "METHOD_NOT_ALLOWED" {
		t.Fatalf("GET /v1/tokens: %d", r.status)
	}
	if r := e.do("GET", "/v1/nothing", "", ""); r.status != 404 || errorCode(t, r.body) != "NOT_FOUND" {
		t.Fatalf("unknown path: %d", r.status)
	}
}

func TestUnknownRole(t *testing.T) {
	if _, err := New(Options{Users: map[string]User{"x": {Password: "p", Role: "ROOT"}}}); err == nil {
		t.Fatal("unknown role accepted")
	}
}
