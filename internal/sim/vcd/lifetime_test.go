package vcd

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func (e *env) bearerGet(tok, path string) int {
	e.t.Helper()
	return e.do("GET", path, nil, "Accept", "application/json;version=37.0", "Authorization", "Bearer "+tok).status
}

func (e *env) login() string {
	e.t.Helper()
	a := e.cloudLogin("/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "pw-alice", "37.0")
	if a.status != 200 {
		e.t.Fatalf("login: %d", a.status)
	}
	return a.header.Get(headerAccessToken)
}

func TestIdleTimeoutSlides(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.IdleTimeout = 10 * time.Minute; o.AbsoluteTimeout = time.Hour })
	tok := e.login()
	for range 5 {
		e.clock.Advance(9 * time.Minute)
		if st := e.bearerGet(tok, "/cloudapi/1.0.0/orgs"); st != 200 {
			t.Fatalf("within the sliding idle timeout: %d", st)
		}
	}
	e.clock.Advance(10 * time.Minute)
	if st := e.bearerGet(tok, "/cloudapi/1.0.0/sessions/current"); st != 401 {
		t.Fatalf("after idling out: %d", st)
	}
	if n := e.b.Stats().ActiveSessions; n != 0 {
		t.Fatalf("active sessions %d", n)
	}
}

func TestAbsoluteCap(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.IdleTimeout = 10 * time.Minute; o.AbsoluteTimeout = 30 * time.Minute })
	tok := e.login()
	for range 3 {
		e.clock.Advance(9 * time.Minute)
		if st := e.bearerGet(tok, "/cloudapi/1.0.0/orgs"); st != 200 {
			t.Fatalf("before the cap: %d", st)
		}
	}
	e.clock.Advance(4 * time.Minute)
	if st := e.bearerGet(tok, "/cloudapi/1.0.0/orgs"); st != 401 {
		t.Fatalf("past the absolute cap: %d", st)
	}
}

func TestSubMinuteIdleIsFractional(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.IdleTimeout = 3 * time.Second })
	a := e.cloudLogin("/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "pw-alice", "37.0")
	var body struct{ SessionIdleTimeoutMinutes float64 }
	if json.Unmarshal([]byte(a.body), &body) != nil || body.SessionIdleTimeoutMinutes != 0.05 {
		t.Fatalf("body %s", a.body)
	}
}

func TestTokenExchanges(t *testing.T) {
	e := newEnv(t, nil)
	var ans struct {
		AccessToken  string  `json:"access_token"`
		TokenType    string  `json:"token_type"`
		ExpiresIn    int     `json:"expires_in"`
		RefreshToken *string `json:"refresh_token"`
	}
	a := e.exchange("ExampleOrg", "api-1")
	if a.status != 200 || json.Unmarshal([]byte(a.body), &ans) != nil || ans.RefreshToken != nil || ans.ExpiresIn != 86400 {
		t.Fatalf("API token exchange: %d %s", a.status, a.body)
	}
	if e.exchange("ExampleOrg", "api-1").status != 200 {
		t.Fatal("an API token is not rotated: it must work again")
	}
	if e.exchange("OtherOrg", "api-1").status != 400 || e.exchange("System", "api-1").status != 400 {
		t.Fatal("an API token works only in its owner's org")
	}
	tok := "sa-1"
	for i := range 5 {
		a := e.exchange("ExampleOrg", tok)
		ans.RefreshToken = nil
		if a.status != 200 || json.Unmarshal([]byte(a.body), &ans) != nil || ans.RefreshToken == nil || *ans.RefreshToken == tok {
			t.Fatalf("rotation %d: %d %s", i, a.status, a.body)
		}
		if old := e.exchange("ExampleOrg", tok); old.status != 400 {
			t.Fatalf("rotation %d: the old token still works: %d", i, old.status)
		}
		if e.bearerGet(ans.AccessToken, "/cloudapi/1.0.0/orgs") != 200 {
			t.Fatalf("rotation %d: access token refused", i)
		}
		tok = *ans.RefreshToken
	}
	if st := e.b.Stats(); st.Logins != 2+5 || st.LoginFailures != 2+5 {
		t.Fatalf("stats %+v", st)
	}
	e.b.Reset()
	if e.exchange("ExampleOrg", "sa-1").status != 200 {
		t.Fatal("Reset must restore the configured service-account token")
	}
	if bad := e.do("POST", "/oauth/tenant/ExampleOrg/token", nil); bad.status != 400 {
		t.Fatalf("no grant_type: %d", bad.status)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t, nil)
	for range 5 {
		e.cloudLogin("/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "wrong", "37.0")
	}
	a := e.cloudLogin("/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "pw-alice", "37.0")
	if a.status != 401 || !jsonHasCode(a.body, "ACCOUNT_LOCKED") {
		t.Fatalf("locked: %d %s", a.status, a.body)
	}
	e.clock.Advance(901 * time.Second)
	if a := e.cloudLogin("/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "pw-alice", "37.0"); a.status != 200 {
		t.Fatalf("after the lock: %d", a.status)
	}
}

func jsonHasCode(body, code string) bool {
	var b struct{ MinorErrorCode string }
	return json.Unmarshal([]byte(body), &b) == nil && b.MinorErrorCode == code
}

func TestExpireAndStats(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.login()
	e.login()
	if n := e.b.Stats().ActiveSessions; n != 2 {
		t.Fatalf("active %d", n)
	}
	if err := e.b.Expire("refresh"); err == nil {
		t.Fatal("Expire(refresh) must be refused: cloud director has no refresh tokens")
	}
	if err := e.b.Expire("sessions"); err != nil {
		t.Fatal(err)
	}
	if e.bearerGet(tok, "/cloudapi/1.0.0/orgs") != 401 || e.b.Stats().ActiveSessions != 0 {
		t.Fatal("a session survived Expire")
	}
	if st := e.b.Stats(); st.Logins != 2 || st.Unauthorized != 1 || st.APICalls != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestParse(t *testing.T) {
	u, err := ParseUser("alice@ExampleOrg=pa:ss:vApp Author")
	if err != nil || u.Name != "alice" || u.Org != "ExampleOrg" || u.Password != "pa:ss" || u.Role != "vApp Author" {
		t.Fatalf("%+v %v", u, err)
	}
	u, _ = ParseUser("root@system=pw")
	if !u.IsProvider() || u.Role != "System Administrator" {
		t.Fatalf("%+v", u)
	}
	if _, err := ParseUser("alice=secret-value"); err == nil || strings.Contains(err.Error(), "secret-value") {
		t.Fatalf("bad user spec: %v", err)
	}
	g, err := ParseGrant("tok:en:bob@Org")
	if err != nil || g.Token != "tok:en" || g.Owner != "bob@Org" {
		t.Fatalf("%+v %v", g, err)
	}
	if _, err := ParseVersions("32.0, x"); err == nil {
		t.Fatal("bad version accepted")
	}
}
