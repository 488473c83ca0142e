package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcenter"
)

// TestVCenterProfile: config init writes a vcenter profile that config
// check --online accepts, and get hands out the session id in the
// vmware-api-session-id header, which the inventory accepts; --org does
// not apply to vcenter.
func TestVCenterProfile(t *testing.T) {
	b, err := vcenter.New(vcenter.Options{Users: []vcenter.User{{Name: testUser, Password: testPassword}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, caPEM, err := sim.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim.NewHandler(b))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCLITest(t, nil, testPassword)
	c.env["TOKENKEEPER_CONFIG"] = filepath.Join(t.TempDir(), "config.yaml")
	ctx := context.Background()
	args := []string{"config", "init", "--profile", "vc", "--provider", "vcenter", "--url", srv.URL,
		"--ca-file", ca, "--username", testUser, "--password-env", "TK_TEST_PW"}
	if o := c.run(ctx, "", append(args, "--org", "O")...); o.code == 0 || !strings.Contains(o.stderr, "--org") {
		t.Fatalf("init with --org: exit %d: %s", o.code, o.stderr)
	}
	if o := c.run(ctx, "", args...); o.code != 0 {
		t.Fatalf("init: exit %d: %s", o.code, o.stderr)
	}
	if o := c.run(ctx, "", "config", "check", "--online"); o.code != 0 || !strings.Contains(o.stdout, "vc: ok") {
		t.Fatalf("check: exit %d: %s%s", o.code, o.stdout, o.stderr)
	}
	o := c.run(ctx, "", "get", "--profile", "vc", "--no-agent")
	if o.code != 0 {
		t.Fatalf("get: exit %d: %s", o.code, o.stderr)
	}
	tok := decodeToken(t, o.stdout)
	if tok.Header.Name != "vmware-api-session-id" || tok.Header.Value == "" || strings.Contains(tok.Header.Value, " ") {
		t.Fatalf("header %q", tok.Header.Name)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/vcenter/vm", nil)
	req.Header.Set(tok.Header.Name, tok.Header.Value)
	resp, err := srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the session does not work: %v %v", resp, err)
	}
	resp.Body.Close()
	if st := b.Stats(); st.Logins != 2 || st.Revocations != 1 || st.LoginFailures != 0 {
		t.Fatalf("stats %+v: want the check's login (logged out) and get's", st)
	}
}
