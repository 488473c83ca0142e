package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// TestLeastPrivilege: a job whose policy reads token/viewer-profile only
// is refused every other path of the engine; no read or list returns a
// secret; neither the engine's log lines (at trace level) nor the audit
// log hold a secret or a token handed out. Unmounting revokes upstream.
func TestLeastPrivilege(t *testing.T) {
	tv := startVault(t, "trace")
	sim := startSim(t, "vcf", "--user", "admin@vsphere.local="+password, "--user", "viewer@vsphere.local="+password+"x:VIEWER")
	writeProfile(t, tv, sim, "admin-profile", map[string]any{"provider": "vcf", "username": "admin@vsphere.local", "password": password})
	writeProfile(t, tv, sim, "viewer-profile", map[string]any{"provider": "vcf", "username": "viewer@vsphere.local", "password": password + "x"})
	viewerToken := fleetToken(t, tv, "viewer-job", "viewer-profile")
	job := tv.client(t, viewerToken)

	tok, err := job.Logical().Read(mount + "/token/viewer-profile")
	must(t, err)
	handedOut := []string{tok.Data["token"].(string)}
	for _, p := range []string{"/token/admin-profile", "/profiles/admin-profile", "/profiles/viewer-profile", "/status", "/status/viewer-profile"} {
		_, err := job.Logical().Read(mount + p)
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
			t.Errorf("%s with the viewer job's token: %v, want 403", p, err)
		}
	}
	if _, err := job.Logical().Write(mount+"/profiles/viewer-profile", map[string]any{"password": "x"}); err == nil {
		t.Error("the viewer job rewrote its profile")
	}

	// The same job through tokenkeeper get (provider vault): exit 4 with
	// a PermissionDenied document on the admin profile, its own works.
	runner := newRunners(t, 1, engineProfiles(t, tv, "admin-profile", "viewer-profile"), viewerToken)[0]
	res, d, err := runner.get(context.Background(), "admin-profile")
	if err != nil || res.exit != 4 || d.Error == nil || d.Error.Code != "PermissionDenied" {
		t.Errorf("tokenkeeper get of the admin profile with the viewer job's token: exit %d, %v, %s", res.exit, err, res.stdout)
	}
	res, d, err = runner.get(context.Background(), "viewer-profile")
	if err != nil || res.exit != 0 {
		t.Fatalf("tokenkeeper get of the viewer profile: exit %d, %v, stderr %q", res.exit, err, res.stderr)
	}
	handedOut = append(handedOut, d.Header.Value)

	admin, err := tv.root.Logical().Read(mount + "/token/admin-profile")
	must(t, err)
	handedOut = append(handedOut, admin.Data["token"].(string))
	var reads strings.Builder
	for _, p := range []string{"/profiles/admin-profile", "/profiles/viewer-profile", "/status", "/status/admin-profile"} {
		s, err := tv.root.Logical().Read(mount + p)
		must(t, err)
		j, _ := json.Marshal(s)
		reads.Write(j)
	}
	list, err := tv.root.Logical().List(mount + "/profiles")
	must(t, err)
	j, _ := json.Marshal(list)
	reads.Write(j)
	noCanary(t, "root's reads and lists", reads.String(), password)

	logs, err := os.ReadFile(tv.logFile)
	must(t, err)
	audit, err := os.ReadFile(tv.audit)
	must(t, err)
	if !strings.Contains(string(logs), "tokenkeeper-vault") || !strings.Contains(string(audit), mount+"/token/viewer-profile") {
		t.Fatal("the engine's log lines or the audit entries are missing: the canary check would prove nothing")
	}
	secrets := append([]string{password, wrongPassword, serviceToken}, handedOut...)
	noCanary(t, "Vault's log (engine lines at trace)", string(logs), secrets...)
	noCanary(t, "the audit log", string(audit), secrets...)
	noCanary(t, "the runner's files (agent log)", runnerFiles(t, runner), append(secrets, viewerToken)...)

	if st := sim.stats(t); st.ActiveSessions != 2 {
		t.Fatalf("before the unmount: %+v", st)
	}
	must(t, tv.root.Sys().Unmount(mount))
	if st := sim.stats(t); st.ActiveSessions != 0 || st.Revocations != 2 {
		t.Errorf("unmounting did not revoke upstream: %+v", st)
	}
}

// noCanary fails when any 8-character piece of a secret appears in what,
// in any letter case.
func noCanary(t *testing.T, where, what string, secrets ...string) {
	t.Helper()
	low := strings.ToLower(what)
	for _, s := range secrets {
		s = strings.ToLower(s)
		for i := 0; i+8 <= len(s); i += 4 {
			if strings.Contains(low, s[i:i+8]) {
				t.Fatalf("%s holds part of a secret (%d bytes checked)", where, len(what))
			}
		}
	}
}
