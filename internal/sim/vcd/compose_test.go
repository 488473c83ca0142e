package vcd

import (
	"net/http"
	"testing"
)

// TestComposeNeedsAuthoringRole: the OPERATOR-tier resource answers 403
// to a role that only uses vApps and 201 to an author; the refused
// session stays valid (403 is a role problem, not a token problem).
func TestComposeNeedsAuthoringRole(t *testing.T) {
	for _, tc := range []struct {
		role   string
		status int
	}{
		{"Console Access Only", http.StatusForbidden},
		{"vApp User", http.StatusForbidden},
		{"Defer to Identity Provider", http.StatusForbidden},
		{"vApp Author", http.StatusCreated},
		{"Catalog Author", http.StatusCreated},
		{"Organization Administrator", http.StatusCreated},
	} {
		t.Run(tc.role, func(t *testing.T) {
			e := newEnv(t, func(o *Options) {
				o.Users = append(o.Users, User{Name: "bob", Org: "ExampleOrg", Password: "pw-bob", Role: tc.role})
			})
			tok := e.cloudLogin("/cloudapi/1.0.0/sessions", "bob@ExampleOrg", "pw-bob", "37.0").header.Get(headerAccessToken)
			auth := []string{"Authorization", "Bearer " + tok, "Accept", "application/*+xml;version=37.0"}
			a := e.do("POST", "/api/vdc/d1/action/composeVApp", nil, auth...)
			if a.status != tc.status {
				t.Fatalf("compose as %s: %d, want %d: %s", tc.role, a.status, tc.status, a.body)
			}
			if a := e.do("GET", "/api/org", nil, auth...); a.status != http.StatusOK {
				t.Fatalf("GET /api/org after compose: %d", a.status)
			}
			if st := e.b.Stats(); st.Unauthorized != 0 || st.ActiveSessions != 1 {
				t.Fatalf("stats after compose: %+v", st)
			}
		})
	}
}
