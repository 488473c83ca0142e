package main

import (
	"context"
	"strings"
	"testing"
)

// config check --online names the account and role of each profile and
// warns about an ADMIN one, suggesting the least role per job.
func TestOnlineCheckNamesRoleAndWarnsAdmin(t *testing.T) {
	u := newUpstream(t) // testUser is ADMIN
	c := newCLITest(t, u, testPassword)
	o := c.run(context.Background(), "", "config", "check", "--online")
	if o.code != 0 || !strings.Contains(o.stdout, "sddc: ok: logged in as "+testUser+", role ADMIN") {
		t.Fatalf("exit %d: %s", o.code, o.stdout)
	}
	if !strings.Contains(o.stderr, "warning: profile sddc logs in as "+testUser+", which has ADMIN") ||
		!strings.Contains(o.stderr, "inventory and reports need VIEWER") {
		t.Fatalf("stderr lacks the ADMIN warning: %s", o.stderr)
	}
	if strings.Contains(o.stdout+o.stderr, testPassword) {
		t.Fatal("the password was printed")
	}
}
