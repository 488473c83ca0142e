package vcenter

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/simtest"
)

const (
	userName = "svc-automation@vsphere.local"
	password = "Sim-Passw0rd!"
)

// env is a simulator on a fake clock behind sim.NewHandler.
type env struct {
	t     *testing.T
	clock *simtest.FakeClock
	b     *Backend
	srv   *httptest.Server
}

func newEnv(t *testing.T, tune ...func(*Options)) *env {
	t.Helper()
	clock := simtest.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	o := Options{Clock: clock, Users: []User{{Name: userName, Password: password},
		{Name: "nobody@vsphere.local", Password: password, Role: RoleNoAccess}}}
	for _, f := range tune {
		f(&o)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.NewHandler(b))
	t.Cleanup(srv.Close)
	return &env{t: t, clock: clock, b: b, srv: srv}
}

// answer is one response, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

// do sends method path with the header pairs kv.
func (e *env) do(method, path string, kv ...string) answer {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// login logs in at the endpoint of the generation and returns the id.
func (e *env) login(api bool, user, pw string) string {
	e.t.Helper()
	if api {
		a := e.do("POST", "/api/session", "Authorization", basic(user, pw))
		var id string
		if a.status != 201 || json.Unmarshal([]byte(a.body), &id) != nil || id == "" {
			e.t.Fatalf("POST /api/session: %d %q, want 201 and a JSON string", a.status, a.body)
		}
		return id
	}
	a := e.do("POST", "/rest/com/vmware/cis/session", "Authorization", basic(user, pw), headerUseHeaderAuthn, "true")
	var v struct{ Value string }
	if a.status != 200 || json.Unmarshal([]byte(a.body), &v) != nil || v.Value == "" {
		e.t.Fatalf("POST /rest/com/vmware/cis/session: %d %q, want 200 and {value}", a.status, a.body)
	}
	return v.Value
}

// Both generations: login, session info, the protected inventory, logout,
// and a 401 for the id afterwards, each in the generation's own shape.
func TestSessionLifecycleBothGenerations(t *testing.T) {
	for _, api := range []bool{true, false} {
		prefix, info, vms := "/rest/com/vmware/cis/session", "/rest/com/vmware/cis/session?~action=get", "/rest/vcenter/vm"
		logoutStatus, infoMethod := 200, "POST"
		if api {
			prefix, info, vms, logoutStatus, infoMethod = "/api/session", "/api/session", "/api/vcenter/vm", 204, "GET"
		}
		t.Run(prefix, func(t *testing.T) {
			e := newEnv(t)
			id := e.login(api, strings.ToUpper(userName), password) // SSO ignores the case of names
			a := e.do(infoMethod, info, headerSession, id)
			if a.status != 200 || !strings.Contains(a.body, `"user":"`+userName+`"`) || !strings.Contains(a.body, "last_accessed_time") {
				t.Fatalf("%s %s: %d %s", infoMethod, info, a.status, a.body)
			}
			if api == strings.Contains(a.body, `"value"`) {
				t.Fatalf("session info %s: the /rest generation wraps in value, /api does not", a.body)
			}
			if a := e.do("GET", vms, headerSession, id); a.status != 200 || !strings.Contains(a.body, "vm-1001") {
				t.Fatalf("GET %s: %d %s", vms, a.status, a.body)
			}
			if a := e.do("DELETE", prefix, headerSession, id); a.status != logoutStatus {
				t.Fatalf("DELETE %s: %d, want %d", prefix, a.status, logoutStatus)
			}
			if a := e.do("GET", vms, headerSession, id); a.status != 401 {
				t.Fatalf("GET %s after logout: %d", vms, a.status)
			}
			st := e.b.Stats()
			if st.Logins != 1 || st.Revocations != 1 || st.APICalls != 2 || st.Unauthorized != 1 || st.ActiveSessions != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// An older release, or --legacy-rest, has no /api at all: 404, as vcsim
// answers, so clients fall back to /rest.
func TestLegacyReleaseHasNoAPISession(t *testing.T) {
	for name, tune := range map[string]func(*Options){
		"6.7":         func(o *Options) { o.APIVersion = "6.7" },
		"7.0.1":       func(o *Options) { o.APIVersion = "7.0.1" },
		"legacy-rest": func(o *Options) { o.LegacyREST = true },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, tune)
			if a := e.do("POST", "/api/session", "Authorization", basic(userName, password)); a.status != 404 {
				t.Fatalf("POST /api/session: %d, want 404", a.status)
			}
			if e.b.Stats().LoginFailures != 0 {
				t.Fatal("a 404 counted as a failed login")
			}
			e.login(false, userName, password)
		})
	}
	e := newEnv(t, func(o *Options) { o.APIVersion = "7.0.2" })
	e.login(true, userName, password)
	if _, err := New(Options{APIVersion: "eight"}); err == nil {
		t.Fatal("a malformed release was accepted")
	}
}

// The /rest login sets the session cookie unless vmware-use-header-authn
// is true, and the cookie authenticates as the header does.
func TestLegacyCookieUnlessHeaderAuthn(t *testing.T) {
	e := newEnv(t)
	a := e.do("POST", "/rest/com/vmware/cis/session", "Authorization", basic(userName, password))
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == headerSession {
			cookie = c
		}
	}
	if a.status != 200 || cookie == nil || !cookie.HttpOnly {
		t.Fatalf("login without header authn: %d, cookie %v", a.status, cookie)
	}
	if a := e.do("GET", "/rest/vcenter/vm", "Cookie", headerSession+"="+cookie.Value); a.status != 200 {
		t.Fatalf("the cookie does not authenticate: %d", a.status)
	}
	if a := e.do("POST", "/rest/com/vmware/cis/session", "Authorization", basic(userName, password),
		headerUseHeaderAuthn, "TRUE"); a.status != 200 || len(a.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("vmware-use-header-authn: true still set a cookie: %v", a.header.Values("Set-Cookie"))
	}
}

// Sessions end after the idle timeout without use (every call extends
// it) and at the absolute cap whatever their use.
func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.IdleTimeout, o.AbsoluteTimeout = 4*time.Second, 10*time.Second })
	id := e.login(true, userName, password)
	for range 3 { // 9 s of use, each call within the idle timeout
		e.clock.Advance(3 * time.Second)
		if a := e.do("GET", "/api/session", headerSession, id); a.status != 200 {
			t.Fatalf("used within the idle timeout: %d", a.status)
		}
	}
	e.clock.Advance(1500 * time.Millisecond)
	if a := e.do("GET", "/api/vcenter/vm", headerSession, id); a.status != 401 {
		t.Fatalf("past the absolute cap: %d", a.status)
	}
	idle := e.login(true, userName, password)
	e.clock.Advance(4 * time.Second)
	if a := e.do("GET", "/api/vcenter/vm", headerSession, idle); a.status != 401 || !strings.Contains(a.body, `"error_type":"UNAUTHENTICATED"`) {
		t.Fatalf("quiet for the idle timeout: %d %s", a.status, a.body)
	}
	if a := e.do("GET", "/rest/vcenter/vm", headerSession, idle); a.status != 401 || a.body != "" {
		t.Fatalf("/rest with an unknown id: %d %q, want 401 with an empty body", a.status, a.body)
	}
}

// Five failed logins within 180 s lock the account for 900 s: the right
// password is refused then, with the same answer as a wrong one.
func TestLockout(t *testing.T) {
	e := newEnv(t)
	var wrong answer
	for range 5 {
		wrong = e.do("POST", "/api/session", "Authorization", basic(userName, "wrong"))
		if wrong.status != 401 {
			t.Fatalf("wrong password: %d", wrong.status)
		}
	}
	locked := e.do("POST", "/api/session", "Authorization", basic(userName, password))
	if locked.status != 401 || locked.body != wrong.body || strings.Contains(locked.body, "wrong") {
		t.Fatalf("locked: %d %q; a wrong password: %q", locked.status, locked.body, wrong.body)
	}
	e.clock.Advance(sim.DefaultLockoutDuration)
	e.login(true, userName, password)
	if st := e.b.Stats(); st.LoginFailures != 6 || st.Logins != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A NoAccess user logs in but the inventory answers 403; /_sim/expire
// ends every session.
func TestForbiddenAndExpire(t *testing.T) {
	e := newEnv(t)
	id := e.login(true, "nobody@vsphere.local", password)
	if a := e.do("GET", "/api/vcenter/vm", headerSession, id); a.status != 403 || !strings.Contains(a.body, "UNAUTHORIZED") {
		t.Fatalf("NoAccess: %d %s", a.status, a.body)
	}
	admin := e.login(false, userName, password)
	if a := e.do("POST", "/_sim/expire", "Content-Type", "application/json"); a.status != 400 {
		t.Fatalf("expire without a body: %d", a.status)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/_sim/expire", strings.NewReader(`{"what":"sessions"}`))
	resp, err := e.srv.Client().Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("expire: %v %v", resp, err)
	}
	resp.Body.Close()
	if a := e.do("GET", "/rest/vcenter/vm", headerSession, admin); a.status != 401 {
		t.Fatalf("after expire: %d", a.status)
	}
	if err := e.b.Expire("refresh"); err == nil {
		t.Fatal("vcenter has no refresh tokens to expire")
	}
}
