//go:build vault

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// vaultProfile is one profile whose password is a {vault: …} reference.
func vaultProfile(name, provider, url, login, path, field string) string {
	return fmt.Sprintf("  %s:\n    provider: %s\n    url: %s\n%s    password: {vault: {path: %s, field: %s}}\n",
		name, provider, url, login, path, field)
}

const (
	vcfLogin = "    username: " + vaultVCFUser + "\n"
	vcdLogin = "    org: ExampleOrg\n    username: alice\n"
)

// vaultConfig is the profiles of the suite over the two simulators, after
// block (the vault: block of an auth method, or "").
func vaultConfig(block string, vcf, vcd *Sim) string {
	return block + "profiles:\n" +
		vaultProfile("sddc", "vcf", vcf.URL, vcfLogin, "secret/data/vmware/sddc", "password") +
		vaultProfile("vcd", "vcd", vcd.URL, vcdLogin, "kv/vmware/vcd", "password") +
		vaultProfile("denied", "vcf", vcf.URL, vcfLogin, "secret/data/other/x", "password") +
		vaultProfile("sealed", "vcf", vcf.URL, vcfLogin, "secret/data/vmware/sddc", "password") +
		vaultProfile("nodata", "vcf", vcf.URL, vcfLogin, "secret/vmware/sddc", "password") +
		vaultProfile("nofield", "vcf", vcf.URL, vcfLogin, "secret/data/vmware/sddc", "passwd")
}

// vaultMethod is how one auth method is configured: the vault: block and
// the environment of tokenkeeper.
type vaultMethod struct {
	name  string
	block func(t testing.TB, dir string) string
	env   []string
}

func vaultMethods(v *vaultDev, s vaultSecrets) []vaultMethod {
	return []vaultMethod{
		{name: "token", // no vault block: VAULT_ADDR and VAULT_TOKEN say it all
			block: func(testing.TB, string) string { return "" },
			env:   []string{"VAULT_ADDR=" + v.addr, "VAULT_TOKEN=" + s.tokenEnv}},
		{name: "token-file", block: func(t testing.TB, dir string) string { // a Vault Agent sink
			f := writeSecretFile(t, dir, "vault-sink-token", s.tokenFile)
			return fmt.Sprintf("vault:\n  address: %s\n  token: {file: %s}\n", v.addr, f)
		}},
		{name: "approle", block: func(t testing.TB, dir string) string {
			f := writeSecretFile(t, dir, "secret-id", s.secretID)
			return fmt.Sprintf("vault:\n  address: %s\n  approle: {role_id: {env: TK_ROLE_ID}, secret_id: {file: %s}}\n", v.addr, f)
		}, env: []string{"TK_ROLE_ID=" + s.roleID}},
		{name: "jwt", block: func(t testing.TB, dir string) string { // a CI system's ID token in a file
			f := writeSecretFile(t, dir, "ci-id-token", s.jwt)
			return fmt.Sprintf("vault:\n  address: %s\n  jwt: {role: ci, token: {file: %s}}\n", v.addr, f)
		}},
	}
}

// TestVault: for each auth method, get logs in to the VCF and VCD
// simulators with passwords read from Vault (KV v2 and KV v1); a path the
// policy does not grant is exit 4, a sealed Vault exit 5, a KV v2 path
// without data/ and a missing field exit 2, each naming path and field;
// a password rotated in Vault (and at the simulator) is used at the next
// login; config check --online reads every reference; and no secret
// value or Vault token shows in any trace log, error, status or file.
func TestVault(t *testing.T) {
	start := time.Now()
	v := startVault(t)
	sec := v.setup(t)
	t.Logf("dev Vault up and set up in %s", time.Since(start).Round(time.Millisecond))
	for _, m := range vaultMethods(v, sec) {
		t.Run(m.name, func(t *testing.T) {
			began := time.Now()
			vaultMethodRun(t, v, sec, m)
			t.Logf("%s: %s", m.name, time.Since(began).Round(time.Millisecond))
		})
	}
}

func vaultMethodRun(t *testing.T, v *vaultDev, sec vaultSecrets, m vaultMethod) {
	vcf, vcfProc := httpSim(t, "vcf", "127.0.0.1:0", "--user", vaultVCFUser+"="+vaultVCFPassword)
	vcd, vcdProc := httpSim(t, "vcd", "127.0.0.1:0", "--user", "alice@ExampleOrg="+vaultVCDPassword)
	dir := t.TempDir()
	tk := newTK(t, vaultConfig(m.block(t, dir), vcf, vcd), m.env...)
	agent := tk.startAgent(t)
	var tokens []string
	if r := tk.run(t, nil, "config", "check"); r.code != 0 || r.stderr != "" {
		t.Fatalf("config check (offline): exit %d, want 0 and no warning: %s%s", r.code, r.stdout, r.stderr)
	}

	a := tk.get(t, "sddc")
	b := tk.get(t, "vcd")
	tokens = append(tokens, a.Token, b.Token)
	if st := vcf.Domains(t, a.Header); st != http.StatusOK {
		t.Fatalf("VCF token from a Vault password refused: %d", st)
	}
	if st := vcd.Call(t, "/cloudapi/1.0.0/orgs", "37.0", b.Header); st != http.StatusOK {
		t.Fatalf("VCD token from a Vault password refused: %d", st)
	}

	expectFail(t, tk, "denied", 4, "secret/data/other/x", "password", "permission denied")
	expectFail(t, tk, "nodata", 2, "secret/vmware/sddc", "KV version 2 mount: write the path as secret/data/vmware/sddc")
	expectFail(t, tk, "nofield", 2, "secret/data/vmware/sddc", `no field "passwd"`)

	v.seal(t)
	expectFail(t, tk, "sealed", 5, "secret/data/vmware/sddc", "password")
	v.unseal(t)

	vaultCheckOnline(t, tk)
	tokens = append(tokens, vaultRotate(t, v, tk, vcfProc, vcdProc, vcf, vcd)...)

	if r := tk.run(t, nil, "status"); r.stdout != "" {
		_, _ = tk.seen.Write([]byte(r.stdout))
	}
	vaultNoLiveToken(t, v, tk.seen.String()) // while the agent's token lives
	agent.stop()
	if m.name == "token" {
		if _, err := v.admin.Auth().Token().Lookup(sec.tokenEnv); err != nil {
			t.Fatalf("the user's own token must outlive the agent: %v", err)
		}
	}
	if m.name == "approle" || m.name == "jwt" {
		// Positive control: the trace log holds the agent's Vault login,
		// so the scan below reads the lines where a token would show.
		if !strings.Contains(tk.seen.String(), "logged in to vault") {
			t.Fatal("the agent's trace log has no Vault login line: the canary scan proves nothing")
		}
	}
	vaultAssertClean(t, tk, sec, tokens, vcf, vcd)
}

// vaultNoLiveToken finds a Vault token even when its value is not known
// (the one tokenkeeper got through AppRole or JWT): every long base62 run
// in text, with and without the hvs. prefix, is looked up as root, and
// one Vault knows is a leak.
func vaultNoLiveToken(t *testing.T, v *vaultDev, text string) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range longRun.FindAllString(text, 2000) {
		if seen[c] {
			continue
		}
		seen[c] = true
		for _, tok := range []string{c, "hvs." + c} {
			if _, err := v.admin.Auth().Token().Lookup(tok); err == nil {
				t.Fatalf("a live Vault token appears in the logs (%d characters)", len(tok))
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no candidate at all in the logs: the scan proves nothing")
	}
}

// longRun is a run of the characters of a token's body (base62 and
// base64url), as long as one.
var longRun = regexp.MustCompile(`[A-Za-z0-9_-]{24,}`)

// expectFail runs get for profile and wants exit code and every one of
// words in its error.
func expectFail(t *testing.T, tk *tkEnv, profile string, code int, words ...string) {
	t.Helper()
	r := tk.run(t, nil, "get", "--profile", profile, "--timeout", "8s")
	if r.code != code {
		t.Fatalf("get %s: exit %d, want %d: %s", profile, r.code, code, r.stderr)
	}
	var doc errorDoc
	if err := strictDecode(r.stdout, &doc); err != nil || doc.Kind != "Error" {
		t.Fatalf("get %s: no Error document (%v): %s", profile, err, r.stdout)
	}
	for _, w := range words {
		if !strings.Contains(r.stderr, w) || !strings.Contains(doc.Error.Message, w) {
			t.Fatalf("get %s: the error (stderr and document) should say %q:\n%s%s", profile, w, r.stderr, r.stdout)
		}
	}
}

// vaultRotate changes both passwords in Vault and at the simulators (a
// restart on the same port with the new password: every old token is
// gone) and checks that the next login uses the new values.
func vaultRotate(t *testing.T, v *vaultDev, tk *tkEnv, vcfProc, vcdProc *proc, vcf, vcd *Sim) []string {
	t.Helper()
	const vcfNew, vcdNew = "canary-vault-vcf-rotated-5e2a", "canary-vault-vcd-rotated-11c4"
	v.write(t, "secret/data/vmware/sddc", map[string]any{"data": map[string]any{"password": vcfNew}})
	v.write(t, "kv/vmware/vcd", map[string]any{"password": vcdNew})
	defer func() {
		v.write(t, "secret/data/vmware/sddc", map[string]any{"data": map[string]any{"password": vaultVCFPassword}})
		v.write(t, "kv/vmware/vcd", map[string]any{"password": vaultVCDPassword})
	}()
	vcfProc.stop()
	vcdProc.stop()
	vcf2, _ := httpSim(t, "vcf", hostPort(t, vcf.URL), "--user", vaultVCFUser+"="+vcfNew)
	vcd2, _ := httpSim(t, "vcd", hostPort(t, vcd.URL), "--user", "alice@ExampleOrg="+vcdNew)
	a := tk.get(t, "sddc", "--force-refresh")
	b := tk.get(t, "vcd", "--force-refresh")
	if st := vcf2.Domains(t, a.Header); st != http.StatusOK {
		t.Fatalf("after rotation: VCF token refused: %d", st)
	}
	if st := vcd2.Call(t, "/cloudapi/1.0.0/orgs", "37.0", b.Header); st != http.StatusOK {
		t.Fatalf("after rotation: VCD token refused: %d", st)
	}
	if s := vcf2.Stats(t); s.Logins != 1 || s.LoginFailures != 0 {
		t.Fatalf("after rotation: VCF logins %d, failures %d; want 1 login with the new password", s.Logins, s.LoginFailures)
	}
	return []string{a.Token, b.Token, vcfNew, vcdNew}
}

// vaultCheckOnline: config check --online reads each reference, one line
// with path and field each, and exits with the worst code (4: denied).
func vaultCheckOnline(t *testing.T, tk *tkEnv) {
	t.Helper()
	r := tk.run(t, nil, "config", "check", "--online", "--profile-timeout", "8s")
	_, _ = tk.seen.Write([]byte(r.stdout))
	if r.code != 4 {
		t.Fatalf("config check --online: exit %d, want 4 (the denied reference):\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"sddc: password: vault secret/data/vmware/sddc field password: ok: read",
		"vcd: password: vault kv/vmware/vcd field password: ok: read",
		"denied: password: vault secret/data/other/x field password: FAILED (PermissionDenied)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("config check --online should print %q:\n%s", want, r.stdout)
		}
	}
}

// vaultAssertClean scans everything tokenkeeper wrote (trace logs of the
// agent, stderr, error documents, status, check output) and every file it
// left under its home and runtime directory for the secrets, their
// case-changed forms and any part of 12 characters, and for any Vault
// service token (hvs.).
func vaultAssertClean(t *testing.T, tk *tkEnv, sec vaultSecrets, tokens []string, sims ...*Sim) {
	t.Helper()
	secrets := append([]string{vaultVCFPassword, vaultVCDPassword, vaultOther, sec.tokenEnv, sec.tokenFile,
		sec.roleID, sec.secretID, sec.jwt}, tokens...)
	texts := map[string]string{"agent log, CLI stderr and documents": tk.seen.String()}
	for i, s := range sims {
		texts[fmt.Sprintf("simulator %d log", i)] = s.Stderr()
	}
	written := []string{filepath.Base(tk.config), "vault-sink-token", "secret-id", "ci-id-token"}
	_ = filepath.Walk(tk.dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || fi.Mode()&os.ModeType != 0 {
			return nil
		}
		for _, w := range written {
			if fi.Name() == w {
				return nil
			}
		}
		b, _ := os.ReadFile(path)
		texts["file "+strings.TrimPrefix(path, tk.dir)] = string(b)
		return nil
	})
	if !strings.Contains(tk.seen.String(), `vault`) || !strings.Contains(tk.seen.String(), "sha256:") {
		t.Fatal("the trace logs name neither Vault nor a fingerprint: the scan saw no logs")
	}
	for what, text := range texts {
		vcdAssertClean(t, what, text, echoes(secrets))
		if strings.Contains(text, "hvs.") {
			t.Errorf("%s: contains a Vault token (hvs.…)", what)
		}
	}
}

// echoes are the secrets, upper- and lower-cased, and their 12-character
// pieces: a partial or case-changed echo is a leak too.
func echoes(secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		out = append(out, s, strings.ToUpper(s), strings.ToLower(s))
		for i := 0; i+12 <= len(s); i += 6 {
			if piece := s[i : i+12]; !strings.HasPrefix(piece, "canary-vault") {
				out = append(out, piece)
			}
		}
	}
	return out
}

// TestVaultGuard: a wrong password in Vault costs one failed login over
// 50 gets (an unchanged value is the same credential), and the value
// corrected in Vault is a new credential, tried at once.
func TestVaultGuard(t *testing.T) {
	v := startVault(t)
	sec := v.setup(t)
	v.write(t, "secret/data/vmware/guard", map[string]any{"data": map[string]any{"password": "canary-vault-wrong-77f0"}})
	vcf, _ := httpSim(t, "vcf", "127.0.0.1:0", "--user", vaultVCFUser+"="+vaultVCFPassword)
	m := vaultMethods(v, sec)[2] // approle
	dir := t.TempDir()
	tk := newTK(t, m.block(t, dir)+"profiles:\n"+
		vaultProfile("guard", "vcf", vcf.URL, vcfLogin, "secret/data/vmware/guard", "password"), m.env...)
	tk.startAgent(t)
	for i := range 50 {
		if r := tk.run(t, nil, "get", "--profile", "guard"); r.code != 3 {
			t.Fatalf("get %d: exit %d, want 3 (rejected, then the guard refusing): %s", i+1, r.code, r.stderr)
		}
	}
	if s := vcf.Stats(t); s.LoginFailures != 1 {
		t.Fatalf("%d failed logins at the simulator over 50 gets with an unchanged wrong password, want 1", s.LoginFailures)
	}
	v.write(t, "secret/data/vmware/guard", map[string]any{"data": map[string]any{"password": vaultVCFPassword}})
	if doc := tk.get(t, "guard"); vcf.Domains(t, doc.Header) != http.StatusOK {
		t.Fatal("the corrected password's token was refused")
	}
	if s := vcf.Stats(t); s.Logins != 1 || s.LoginFailures != 1 {
		t.Fatalf("logins %d, failures %d: the value changed in Vault must be tried at once", s.Logins, s.LoginFailures)
	}
}

// TestVaultAppRoleRevokedAtExit: the token tokenkeeper obtained through
// AppRole lives while the agent does and is revoked when it exits.
func TestVaultAppRoleRevokedAtExit(t *testing.T) {
	v, tk := vaultLab(t, "approle")
	agent := tk.startAgent(t)
	tk.get(t, "sddc")
	tk.get(t, "vcd")
	live := v.createdTokens(t, "auth/approle/login")
	if len(live) != 1 {
		t.Fatalf("%d AppRole tokens live while the agent runs, want 1 (one login serves every reference)", len(live))
	}
	agent.stop()
	if _, err := v.admin.Auth().Token().LookupAccessor(live[0]); err == nil {
		t.Fatal("the AppRole token still lives after the agent exited")
	}
}

// TestVaultStopped: a Vault that is not running is exit 5 (retryable),
// naming the reference and Vault's address.
func TestVaultStopped(t *testing.T) {
	v, tk := vaultLab(t, "token")
	tk.get(t, "sddc")
	v.p.stop()
	expectFail(t, tk, "sealed", 5, "secret/data/vmware/sddc", "password", v.addr)
}

// vaultLab is a set-up dev Vault, the two simulators and a tokenkeeper
// user configured with the auth method named method.
func vaultLab(t *testing.T, method string) (*vaultDev, *tkEnv) {
	t.Helper()
	v := startVault(t)
	sec := v.setup(t)
	vcf, _ := httpSim(t, "vcf", "127.0.0.1:0", "--user", vaultVCFUser+"="+vaultVCFPassword)
	vcd, _ := httpSim(t, "vcd", "127.0.0.1:0", "--user", "alice@ExampleOrg="+vaultVCDPassword)
	for _, m := range vaultMethods(v, sec) {
		if m.name == method {
			return v, newTK(t, vaultConfig(m.block(t, t.TempDir()), vcf, vcd), m.env...)
		}
	}
	t.Fatalf("no auth method %q", method)
	return nil, nil
}
