package vcenter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// startVcsim runs the vcsim binary (TK_VCSIM) on 127.0.0.1:0 with c's
// certificate, with the suite's user and password unless open, and
// returns its base URL (scheme, host and port).
func startVcsim(t *testing.T, c certs, open bool) string {
	t.Helper()
	argv := []string{binary(t, "TK_VCSIM", ""), "-l", "127.0.0.1:0", "-tlscert", c.certFile, "-tlskey", c.keyFile}
	if !open {
		argv = append(argv, "-username", vcUser, "-password", vcPassword)
	}
	line := startProcess(t, "GOVC_URL=", argv...)
	raw, _, _ := strings.Cut(strings.TrimPrefix(line, "export GOVC_URL="), " ")
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("vcsim printed no URL: %q", line)
	}
	return "https://" + u.Host
}

// vcsim started for the suite: refused unless it rejects a wrong password.
func guardedVcsim(t *testing.T, c certs) string {
	t.Helper()
	base := startVcsim(t, c, false)
	if err := rejectsWrongPassword(c.client(), base); err != nil {
		t.Fatal(err)
	}
	return base
}

// The suite refuses a vcsim that accepts any password (its default):
// against it a wrong password would pass for a right one.
func TestRefusesVcsimWithoutCredentials(t *testing.T) {
	c := newCerts(t)
	base := startVcsim(t, c, true)
	err := rejectsWrongPassword(c.client(), base)
	if err == nil || !strings.Contains(err.Error(), "accepts any password") {
		t.Fatalf("a vcsim without -username/-password was not refused: %v", err)
	}
}

// tokenkeeper logs in to vcsim (which has no /api/session: the provider
// falls back to /rest/com/vmware/cis/session), and vcsim's tagging and
// content library REST resources accept the header it hands out, for a
// read and a write.
func TestVcsimLoginHeaderAccepted(t *testing.T) {
	c := newCerts(t)
	base := guardedVcsim(t, c)
	k := newTK(t, base, c.caFile, vcPassword)
	tok := k.get()
	hc := c.client()
	if status, body := call(t, hc, http.MethodGet, base, "/rest/com/vmware/cis/tagging/category", tok, ""); status != 200 || !strings.Contains(body, `"value"`) {
		t.Fatalf("GET tagging/category with the session header: %d %s", status, body)
	}
	spec := `{"create_spec":{"name":"tokenkeeper-conformance","description":"made by the suite","cardinality":"SINGLE","associable_types":[]}}`
	if status, body := call(t, hc, http.MethodPost, base, "/rest/com/vmware/cis/tagging/category", tok, spec); status != 200 || !strings.Contains(body, "urn:vmomi:InventoryServiceCategory") {
		t.Fatalf("POST tagging/category with the session header: %d %s", status, body)
	}
	if status, body := call(t, hc, http.MethodGet, base, "/rest/com/vmware/content/library", tok, ""); status != 200 {
		t.Fatalf("GET content/library with the session header: %d %s", status, body)
	}
	if again := k.get(); again.Fingerprint != tok.Fingerprint {
		t.Fatal("the agent logged in again instead of handing out its session")
	}
	bogus := tok
	bogus.Header.Value = "not-a-session"
	if status, _ := call(t, hc, http.MethodGet, base, "/rest/com/vmware/cis/tagging/category", bogus, ""); status != 401 {
		t.Fatalf("vcsim accepted an unknown session id: %d", status)
	}
}

// A wrong password: get exits 3 (credentials rejected) after exactly one
// failed login at vcsim, and a second get is held back by the lockout
// guard without reaching vcsim.
func TestVcsimWrongPassword(t *testing.T) {
	c := newCerts(t)
	base := guardedVcsim(t, c)
	proxy := newCounter(t, c, base)
	k := newTK(t, proxy.srv.URL, c.caFile, vcPassword+"-wrong")
	for i := range 2 {
		code, stdout, stderr := k.run("get", "--profile", "vc", "--no-agent")
		if code != 3 || stdout != "" && !strings.Contains(stdout, `"kind":"Error"`) {
			t.Fatalf("get %d with a wrong password: exit %d, stdout %q, stderr %s", i+1, code, stdout, stderr)
		}
	}
	if n, ok := proxy.count(http.StatusUnauthorized), proxy.count(http.StatusOK); n != 1 || ok != 0 {
		t.Fatalf("vcsim saw %d failed and %d successful logins; want exactly 1 failed", n, ok)
	}
	// vcsim has no /api/session: the first attempt there was a 404, which
	// authenticates nothing; the fallback carried the one counted login.
	if n := proxy.count(http.StatusNotFound); n != 1 {
		t.Fatalf("%d logins at /api/session, want the 1 that found it missing", n)
	}
}

// logout ends the session at vcsim: the id it handed out gets 401.
func TestVcsimLogout(t *testing.T) {
	c := newCerts(t)
	base := guardedVcsim(t, c)
	k := newTK(t, base, c.caFile, vcPassword)
	tok := k.get()
	hc := c.client()
	if status, _ := call(t, hc, http.MethodGet, base, "/rest/com/vmware/cis/tagging/category", tok, ""); status != 200 {
		t.Fatalf("before logout: %d", status)
	}
	if code, _, stderr := k.run("logout", "--profile", "vc"); code != 0 {
		t.Fatalf("logout: exit %d: %s", code, stderr)
	}
	if status, _ := call(t, hc, http.MethodGet, base, "/rest/com/vmware/cis/tagging/category", tok, ""); status != 401 {
		t.Fatalf("the session id still works after logout: %d", status)
	}
}
