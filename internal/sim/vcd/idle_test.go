package vcd

import (
	"encoding/json"
	"testing"
	"time"
)

// The simulator reports its idle timeout wherever Cloud Director does —
// the CloudAPI login body and GET /cloudapi/1.0.0/sessions/current, for
// every kind of session, a legacy one with its x-vcloud-authorization
// token included — and ends every kind of session after it.
func TestIdleTimeoutReportedAndEnforcedForEverySession(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.IdleTimeout = 4 * time.Second })
	const jsonAccept = "application/json;version=37.0"
	legacy := e.do("POST", "/api/sessions", nil, "Authorization", basic("alice@ExampleOrg", "pw-alice"),
		"Accept", "application/*+xml;version=37.0")
	cloud := e.cloudLogin("/cloudapi/1.0.0/sessions", "alice@ExampleOrg", "pw-alice", "37.0")
	system := e.cloudLogin("/cloudapi/1.0.0/sessions/provider", "admin@System", "pw-admin", "37.0")
	tokenJWT := func(a answer) string {
		var ans struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal([]byte(a.body), &ans)
		return ans.AccessToken
	}
	sessions := []struct {
		name, header, value string
	}{
		{"legacy", headerVCloudAuth, legacy.header.Get(headerVCloudAuth)},
		{"cloudapi", "Authorization", "Bearer " + cloud.header.Get(headerAccessToken)},
		{"provider", "Authorization", "Bearer " + system.header.Get(headerAccessToken)},
		{"api token", "Authorization", "Bearer " + tokenJWT(e.exchange("ExampleOrg", "api-1"))},
		{"service account", "Authorization", "Bearer " + tokenJWT(e.exchange("ExampleOrg", "sa-1"))},
	}
	for _, s := range sessions {
		a := e.do("GET", "/cloudapi/1.0.0/sessions/current", nil, "Accept", jsonAccept, s.header, s.value)
		var body struct{ SessionIdleTimeoutMinutes *float64 }
		if a.status != 200 || json.Unmarshal([]byte(a.body), &body) != nil || body.SessionIdleTimeoutMinutes == nil ||
			time.Duration(*body.SessionIdleTimeoutMinutes*float64(time.Minute)).Round(time.Millisecond) != 4*time.Second {
			t.Errorf("%s: sessions/current %d does not report the idle timeout", s.name, a.status)
		}
	}
	e.clock.Advance(3 * time.Second)
	for _, s := range sessions {
		if a := e.do("GET", "/cloudapi/1.0.0/orgs", nil, "Accept", jsonAccept, s.header, s.value); a.status != 200 {
			t.Errorf("%s: used within the idle timeout: %d", s.name, a.status)
		}
	}
	e.clock.Advance(4 * time.Second)
	for _, s := range sessions {
		if a := e.do("GET", "/cloudapi/1.0.0/orgs", nil, "Accept", jsonAccept, s.header, s.value); a.status != 401 {
			t.Errorf("%s: quiet for the idle timeout but still accepted: %d", s.name, a.status)
		}
	}
}
