package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// TestTokenkeeperVerbs: through a profile of provider vault, `tokenkeeper
// invalidate` reaches the engine (one refresh upstream, a new token),
// `config check --online` reads it, `tokenkeeper status` shows the
// profile without a secret, and a Go host
// launching tokenkeeper gets through a 401 with host.Transport, its
// invalidation reaching the engine too. No secret or token handed out
// appears in the runner's files (agent log included), Vault's log or its
// audit log.
func TestTokenkeeperVerbs(t *testing.T) {
	tv := startVault(t, "trace")
	sim := startSim(t, "vcf", "--user", "svc@vsphere.local="+password)
	writeProfile(t, tv, sim, "sddc", map[string]any{"provider": "vcf", "username": "svc@vsphere.local", "password": password})
	rules := `path "` + mount + `/token/sddc" { capabilities = ["read"] }
path "` + mount + `/invalidate/sddc" { capabilities = ["update"] }
`
	must(t, tv.root.Sys().PutPolicy("job-sddc", rules))
	tok := policyToken(t, tv, "job-sddc")
	config := engineProfiles(t, tv, "sddc")
	r := newRunners(t, 1, config, tok)[0]
	ctx := context.Background()
	var handedOut []string

	res, first, err := r.get(ctx, "sddc")
	if err != nil || res.exit != 0 || first.Provider != "vault" {
		t.Fatalf("get: exit %d, %v, provider %q, stderr %q", res.exit, err, first.Provider, res.stderr)
	}
	handedOut = append(handedOut, first.Header.Value)
	engine, err := tv.root.Logical().Read(mount + "/status/sddc")
	must(t, err)
	if engine.Data["fingerprint"] != first.Fingerprint {
		t.Fatalf("tokenkeeper's fingerprint %s is not the engine's %v", first.Fingerprint, engine.Data["fingerprint"])
	}
	before := sim.stats(t)
	if res := r.tk(ctx, "invalidate", "--profile", "sddc", "--fingerprint", first.Fingerprint); res.exit != 0 {
		t.Fatalf("invalidate: exit %d, stderr %q", res.exit, res.stderr)
	}
	res, second, err := r.get(ctx, "sddc")
	if err != nil || res.exit != 0 || second.Fingerprint == first.Fingerprint {
		t.Fatalf("get after invalidate: exit %d, %v, same token %v", res.exit, err, second.Fingerprint == first.Fingerprint)
	}
	handedOut = append(handedOut, second.Header.Value)
	after := sim.stats(t)
	figure(t, "tokenkeeper invalidate through the engine: upstream refreshes %d → %d, logins %d → %d",
		before.Refreshes, after.Refreshes, before.Logins, after.Logins)
	if after.Refreshes != before.Refreshes+1 || after.Logins != before.Logins {
		t.Errorf("invalidate cost %d refreshes and %d logins upstream; want 1 and 0",
			after.Refreshes-before.Refreshes, after.Logins-before.Logins)
	}

	res = r.tk(ctx, "config", "check", "--online")
	if res.exit != 0 || !strings.Contains(string(res.stdout), "sddc: ok: read from the Vault engine") {
		t.Errorf("config check --online: exit %d, %s %s", res.exit, res.stdout, res.stderr)
	}
	checked := string(res.stdout) + res.stderr

	res = r.tk(ctx, "status", "--json")
	if res.exit != 0 || !strings.Contains(string(res.stdout), `"sddc"`) || !strings.Contains(string(res.stdout), "vault") {
		t.Errorf("status: exit %d, %s", res.exit, res.stdout)
	}
	status := string(res.stdout) + res.stderr + checked

	hostOut := goHost(t, r, config, sim)
	var statuses map[string]int
	if err := json.Unmarshal(hostOut, &statuses); err != nil || statuses["first"] != 200 || statuses["second"] != 200 {
		t.Errorf("Go host through host.Transport: %s (%v); want 200 before and after the 401", hostOut, err)
	}
	final := sim.stats(t)
	figure(t, "Go host (host.Transport) through the engine: a 401 after /_sim/expire cost %d refresh(es), %d login(s) upstream",
		final.Refreshes-after.Refreshes, final.Logins-after.Logins)
	if final.Logins != 1 || final.Unauthorized == 0 {
		t.Errorf("after the Go host: %+v; want 1 login and the 401 it got through", final)
	}
	cur, err := tv.root.Logical().Read(mount + "/token/sddc")
	must(t, err)
	handedOut = append(handedOut, cur.Data["token"].(string))

	secrets := append([]string{password, tok}, handedOut...)
	noCanary(t, "tokenkeeper status and config check", status, secrets...)
	files := runnerFiles(t, r)
	if !strings.Contains(files, "sddc") {
		t.Fatal("the runner's files hold no agent log: the canary check would prove nothing")
	}
	noCanary(t, "the runner's files (agent log)", files, secrets...)
	logs, err := os.ReadFile(tv.logFile)
	must(t, err)
	audit, err := os.ReadFile(tv.audit)
	must(t, err)
	noCanary(t, "Vault's log (engine lines at trace)", string(logs), secrets...)
	noCanary(t, "the audit log", string(audit), secrets...)
}

// policyToken is a token with policy only.
func policyToken(t *testing.T, tv *testVault, policy string) string {
	t.Helper()
	s, err := tv.root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{policy}, TTL: "1h"})
	must(t, err)
	return s.Auth.ClientToken
}

// goHost runs internal/gohost of the engine module as runner r.
func goHost(t *testing.T, r runner, config string, sim *upstream) []byte {
	t.Helper()
	bin := builtGoHost.binary(t, "./internal/gohost")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-tokenkeeper", r.bin, "-config", config, "-profile", "sddc",
		"-sim", sim.URL, "-ca", sim.CAFile)
	cmd.Env = r.env
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gohost: %v; stderr: %s", err, stderr.String())
	}
	return out
}
