package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// roleAccount is one account of a roles e2e run and what tokenkeeper must
// say about it.
type roleAccount struct {
	profile, principal, role string
	warn                     bool // config check --online warns about the role
}

// roleLab is one simulator with per-role accounts, the tokenkeeper user
// whose config names them, and the provider's own parts.
type roleLab struct {
	s        *Sim
	tk       *tkEnv
	env      []string // the passwords, for a plugin child
	accounts []roleAccount
	// refusal is the message of the max_role profile "reporting".
	refusal string
	// operatorOnly builds a request to the simulator's resource that
	// needs the OPERATOR tier.
	operatorOnly func(t *testing.T) *http.Request
	scopes       bool // status --json carries scopes (vcf)
}

// TestRolesEndToEnd: against the SDDC Manager and Cloud Director simulators, a VIEWER, an OPERATOR and
// an ADMIN account each show their role in status, status --json, the
// exec and gRPC Token documents and config check --online; max_role
// refuses a stronger account at once (exit 4, revoked, no failed login,
// no guard record); a VIEWER token refused with 403 is not invalidated.
func TestRolesEndToEnd(t *testing.T) {
	binaries(t) // skips under -short
	t.Run("vcf", func(t *testing.T) { runRoles(t, vcfRoleLab(t)) })
	t.Run("vcd", func(t *testing.T) { runRoles(t, vcdRoleLab(t)) })
	t.Run("vcenter", rolesVCenter)
}

// rolesVCenter: vCenter names the user of a session but not its roles,
// so tokenkeeper shows the principal and no role, warns about nothing,
// and refuses max_role for it as configuration.
func rolesVCenter(t *testing.T) {
	s := startSim(t, "vcenter", "--user", "svc-vc@vsphere.local="+rolePW+":Administrator")
	profile := fmt.Sprintf("  vc:\n    provider: vcenter\n    url: %s\n    ca_file: %s\n    username: svc-vc@vsphere.local\n    password: {env: TK_ROLE_PW}\n",
		s.URL, s.CAFile)
	tk := newTK(t, "profiles:\n"+profile, "TK_ROLE_PW="+rolePW)
	if doc := tk.get(t, "vc"); doc.Principal != "svc-vc@vsphere.local" || doc.Role != "" {
		t.Fatalf("get vc: principal %q role %q, want the user and no role", doc.Principal, doc.Role)
	}
	if r := tk.run(t, nil, "status"); !hasRow(r.stdout, "vc", "-") {
		t.Fatalf("status: no row of vc with role -:\n%s", r.stdout)
	}
	r := tk.run(t, nil, "config", "check", "--online")
	if r.code != 0 || !strings.Contains(r.stdout, "vc: ok: logged in as svc-vc@vsphere.local, role not reported by the upstream") ||
		strings.Contains(r.stderr, "warning: profile vc") {
		t.Fatalf("config check --online: exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	limited := newTK(t, "profiles:\n"+profile+"    max_role: ReadOnly\n", "TK_ROLE_PW="+rolePW)
	if r := limited.run(t, nil, "config", "check"); r.code != 2 || !strings.Contains(r.stderr, "not supported for provider vcenter") {
		t.Fatalf("max_role on vcenter: exit %d, want 2: %s", r.code, r.stderr)
	}
}

const rolePW = "R0le-e2e-pass"

func vcfRoleLab(t *testing.T) *roleLab {
	s := startSim(t, "vcf", "--user", "viewer@vsphere.local="+rolePW+":VIEWER",
		"--user", "operator@vsphere.local="+rolePW+":OPERATOR", "--user", "svc-automation@vsphere.local="+rolePW+":ADMIN")
	profile := func(name, user, extra string) string {
		return fmt.Sprintf("  %s:\n    provider: vcf\n    url: %s\n    ca_file: %s\n    username: %s\n    password: {env: TK_ROLE_PW}\n%s",
			name, s.URL, s.CAFile, user, extra)
	}
	cfg := "profiles:\n" + profile("viewer", "viewer@vsphere.local", "") + profile("operator", "operator@vsphere.local", "") +
		profile("admin", "svc-automation@vsphere.local", "") + profile("reporting", "svc-automation@vsphere.local", "    max_role: VIEWER\n")
	env := []string{"TK_ROLE_PW=" + rolePW}
	return &roleLab{s: s, tk: newTK(t, cfg, env...), env: env, scopes: true,
		accounts: []roleAccount{
			{"viewer", "viewer@vsphere.local", "VIEWER", false},
			{"operator", "operator@vsphere.local", "OPERATOR", false},
			{"admin", "svc-automation@vsphere.local", "ADMIN", true},
		},
		refusal: "profile reporting allows at most VIEWER; svc-automation@vsphere.local has ADMIN: use a VIEWER service account",
		operatorOnly: func(t *testing.T) *http.Request {
			req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/domains", bytes.NewReader([]byte(`{"domainName":"wld-01"}`)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			return req
		},
	}
}

func vcdRoleLab(t *testing.T) *roleLab {
	s := startSim(t, "vcd", "--product", "10.4", "--user", "viewer@ExampleOrg="+rolePW+":vApp User",
		"--user", "operator@ExampleOrg="+rolePW+":vApp Author", "--user", "orgadmin@ExampleOrg="+rolePW+":Organization Administrator",
		"--user", "provider@System="+rolePW+":System Administrator")
	profile := func(name, user, org, extra string) string {
		return vcdProfile(name, s, fmt.Sprintf("    org: %s\n    username: %s\n    password: {env: TK_ROLE_PW}\n%s", org, user, extra))
	}
	cfg := "profiles:\n" + profile("viewer", "viewer", "ExampleOrg", "") + profile("operator", "operator", "ExampleOrg", "") +
		profile("admin", "orgadmin", "ExampleOrg", "") + profile("provider", "provider", "System", "") +
		profile("reporting", "orgadmin", "ExampleOrg", "    max_role: vApp User\n")
	env := []string{"TK_ROLE_PW=" + rolePW}
	return &roleLab{s: s, tk: newTK(t, cfg, env...), env: env,
		accounts: []roleAccount{
			{"viewer", "viewer@ExampleOrg", "vApp User", false},
			{"operator", "operator@ExampleOrg", "vApp Author", false},
			{"admin", "orgadmin@ExampleOrg", "Organization Administrator", true},
			{"provider", "provider@System", "System Administrator", true},
		},
		refusal: "profile reporting allows at most vApp User; orgadmin@ExampleOrg has Organization Administrator: use a vApp User service account",
		operatorOnly: func(t *testing.T) *http.Request {
			req, err := http.NewRequest(http.MethodPost, s.URL+"/api/vdc/d1/action/composeVApp", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", "application/*+xml;version=37.0")
			return req
		},
	}
}

func runRoles(t *testing.T, l *roleLab) {
	t.Run("max_role", func(t *testing.T) { rolesMaxRole(t, l) })
	t.Run("token", func(t *testing.T) {
		for _, a := range l.accounts {
			if doc := l.tk.get(t, a.profile); doc.Principal != a.principal || doc.Role != a.role {
				t.Errorf("get %s: principal %q role %q, want %q %q", a.profile, doc.Principal, doc.Role, a.principal, a.role)
			}
		}
	})
	t.Run("status", func(t *testing.T) { rolesStatus(t, l) })
	t.Run("grpc-and-403", func(t *testing.T) { rolesPlugin(t, l) })
	t.Run("config-check-online", func(t *testing.T) { rolesConfigCheck(t, l) })
}

// rolesMaxRole: the first thing the simulator sees is the refused login,
// so its counters are exactly that login's.
func rolesMaxRole(t *testing.T, l *roleLab) {
	r := l.tk.run(t, nil, "get", "--profile", "reporting")
	if r.code != 4 || !strings.Contains(r.stderr, l.refusal) {
		t.Fatalf("get reporting: exit %d, stderr %q; want 4 with %q", r.code, r.stderr, l.refusal)
	}
	var doc errorDoc
	if err := strictDecode(r.stdout, &doc); err != nil || doc.Error.Code != "PermissionDenied" || doc.Error.Retryable {
		t.Fatalf("error document %q (%v), want PermissionDenied, not retryable", r.stdout, err)
	}
	st := l.s.Stats(t)
	if st.Logins != 1 || st.Revocations != 1 || st.ActiveSessions != 0 || st.LoginFailures != 0 {
		t.Fatalf("simulator after the refusal: %+v; want 1 login, 1 revocation, 0 active, 0 failed", st)
	}
	if g := l.tk.run(t, nil, "guard", "status"); g.code != 0 || !strings.Contains(g.stdout, "no lockout records") {
		t.Fatalf("guard status after the refusal: exit %d:\n%s", g.code, g.stdout)
	}
}

// rolesStatus: the ROLE column and status --json's principal, role and
// scopes, for the profiles the agent now holds.
func rolesStatus(t *testing.T, l *roleLab) {
	table := l.tk.run(t, nil, "status")
	if table.code != 0 || !strings.Contains(table.stdout, "ROLE") {
		t.Fatalf("status: exit %d:\n%s", table.code, table.stdout)
	}
	js := l.tk.run(t, nil, "status", "--json")
	var doc struct {
		Profiles []struct {
			Profile, Principal, Role string
			Scopes                   []string
		}
	}
	if js.code != 0 || json.Unmarshal([]byte(js.stdout), &doc) != nil {
		t.Fatalf("status --json: exit %d:\n%s", js.code, js.stdout)
	}
	for _, a := range l.accounts {
		if !hasRow(table.stdout, a.profile, a.role) {
			t.Errorf("status: no row of %s with role %q:\n%s", a.profile, a.role, table.stdout)
		}
		found := false
		for _, p := range doc.Profiles {
			if p.Profile != a.profile {
				continue
			}
			found = p.Principal == a.principal && p.Role == a.role && (!l.scopes || len(p.Scopes) > 0)
		}
		if !found {
			t.Errorf("status --json lacks %s as %s with role %s (and scopes: %v):\n%s", a.profile, a.principal, a.role, l.scopes, js.stdout)
		}
	}
}

// hasRow reports whether a table line starts with profile and holds role.
func hasRow(table, profile, role string) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == profile && strings.Contains(line, "  "+role+"  ") {
			return true
		}
	}
	return false
}

// rolesPlugin: the gRPC Token names principal and role; the VIEWER token
// is refused by the OPERATOR-tier resource with 403 through host.Transport,
// which does not invalidate it (the same token comes back, no new login),
// while the OPERATOR token is accepted.
func rolesPlugin(t *testing.T, l *roleLab) {
	tokenkeeper, _ := binaries(t)
	c, err := launch(t, host.LaunchOptions{Path: tokenkeeper, ConfigPath: l.tk.config, Env: l.env,
		Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, a := range l.accounts {
		tok, err := c.Token(ctx, a.profile, host.TokenOptions{})
		if err != nil || tok.Principal != a.principal || tok.Role != a.role {
			t.Fatalf("gRPC Token %s: %v principal %q role %q, want %q %q", a.profile, err, tok.Principal, tok.Role, a.principal, a.role)
		}
	}
	before, err := c.Token(ctx, "viewer", host.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logins := l.s.Stats(t).Logins
	client := &http.Client{Transport: &host.Transport{Source: c, Profile: "viewer", Base: l.s.HTTP.Transport}}
	if st := do(t, client, l.operatorOnly(t)); st != http.StatusForbidden {
		t.Fatalf("VIEWER on the OPERATOR-only resource: %d, want 403", st)
	}
	after, err := c.Token(ctx, "viewer", host.TokenOptions{})
	if err != nil || after.Fingerprint != before.Fingerprint || l.s.Stats(t).Logins != logins {
		t.Fatalf("after a 403 the token changed (%v, %s → %s) or a login happened: 403 must not invalidate",
			err, before.Fingerprint, after.Fingerprint)
	}
	operator := &http.Client{Transport: &host.Transport{Source: c, Profile: "operator", Base: l.s.HTTP.Transport}}
	if st := do(t, operator, l.operatorOnly(t)); st/100 != 2 {
		t.Fatalf("OPERATOR on its resource: %d, want 2xx", st)
	}
}

func do(t *testing.T, c *http.Client, req *http.Request) int {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// rolesConfigCheck: every profile's account and role, a warning for the
// ADMIN-class ones only, and the max_role profile failing with exit 4.
func rolesConfigCheck(t *testing.T, l *roleLab) {
	r := l.tk.run(t, nil, "config", "check", "--online")
	if r.code != 4 || !strings.Contains(r.stdout, "reporting: FAILED (PermissionDenied): "+l.refusal) {
		t.Fatalf("config check --online: exit %d, want 4 with reporting refused:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, a := range l.accounts {
		if want := a.profile + ": ok: logged in as " + a.principal + ", role " + a.role; !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
		warned := strings.Contains(r.stderr, "warning: profile "+a.profile+" logs in as "+a.principal+", which has "+a.role)
		if warned != a.warn {
			t.Errorf("%s (%s): warned %v, want %v:\n%s", a.profile, a.role, warned, a.warn, r.stderr)
		}
	}
	if strings.Contains(r.stdout+r.stderr, rolePW) {
		t.Fatal("config check printed the password")
	}
}
