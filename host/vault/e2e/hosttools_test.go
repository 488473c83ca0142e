package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestHostTools: Ansible's lookup and Packer's data source run as a user
// runs them, against a profile of provider vault; the token they get
// reaches the simulator's protected resource, and upstream sees only the
// engine's one login.
func TestHostTools(t *testing.T) {
	tv := startVault(t, "info")
	t.Run("ansible", func(t *testing.T) { ansibleLookup(t, tv) })
}

// toolRunner is a runner reading profile sddc of the engine, backed by a
// fresh vcf simulator.
func toolRunner(t *testing.T, tv *testVault) (runner, *upstream, string) {
	t.Helper()
	sim := startSim(t, "vcf", "--user", "svc@vsphere.local="+password)
	writeProfile(t, tv, sim, "sddc", map[string]any{"provider": "vcf", "username": "svc@vsphere.local", "password": password})
	must(t, tv.root.Sys().PutPolicy("job-sddc", `path "`+mount+`/token/sddc" { capabilities = ["read"] }`))
	tok := policyToken(t, tv, "job-sddc")
	return newRunners(t, 1, engineProfiles(t, tv, "sddc"), tok)[0], sim, tok
}

// ansibleLookup installs the collection with ansible-galaxy into a
// temporary collections path and runs testdata/lookup.yml with
// ansible-playbook.
func ansibleLookup(t *testing.T, tv *testVault) {
	playbook := hostTool(t, "TOKENKEEPER_ANSIBLE_PLAYBOOK", "ansible-playbook")
	collection := os.Getenv("TOKENKEEPER_ANSIBLE_COLLECTION")
	if collection == "" {
		collection = filepath.Join("..", "..", "ansible")
	}
	r, sim, tok := toolRunner(t, tv)
	dir := t.TempDir()
	env := append(r.env, "ANSIBLE_COLLECTIONS_PATH="+filepath.Join(dir, "collections"),
		"ANSIBLE_HOME="+filepath.Join(dir, "home"), "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"), "ANSIBLE_NOCOLOR=1", "PYTHONDONTWRITEBYTECODE=1")
	galaxy := filepath.Join(filepath.Dir(playbook), "ansible-galaxy")
	runTool(t, env, galaxy, "collection", "install", collection, "-p", filepath.Join(dir, "collections"))

	before := sim.stats(t)
	extra, _ := json.Marshal(map[string]string{"sim_url": sim.URL, "sim_ca": sim.CAFile, "tokenkeeper_helper_path": r.bin})
	out := runTool(t, env, playbook, "-v", "-i", "localhost,", "testdata/lookup.yml", "-e", string(extra))
	cur, err := tv.root.Logical().Read(mount + "/token/sddc")
	must(t, err)
	noCanary(t, "ansible-playbook -v output", out, password, tok, cur.Data["token"].(string))
	after := sim.stats(t)
	figure(t, "ansible-playbook through the engine: upstream logins %d → %d, protected calls %d → %d",
		before.Logins, after.Logins, before.APICalls, after.APICalls)
	if after.Logins != 1 || after.LoginFailures != 0 || after.Unauthorized != 0 || after.APICalls < before.APICalls+2 {
		t.Errorf("simulator saw %+v after the playbook; want the engine's 1 login, 2 more protected calls, no 401", after)
	}
}

// hostTool is $env, else name on PATH; missing, the test is skipped,
// except under CI, where it fails.
func hostTool(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found and $%s not set: CI must run this test", name, env)
		}
		t.Skipf("%s not found (set $%s, or run `make e2e-engine`, which installs it)", name, env)
	}
	return p
}

// runTool runs a host tool with env within two minutes and returns its
// output; a failure ends the test with that output.
func runTool(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), args[0], err, out.String())
	}
	return out.String()
}
