package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	t.Run("packer", func(t *testing.T) { packerBuild(t, tv) })
}

// toolWorld is one runner whose profile sddc is the engine's, backed by a
// fresh vcf simulator. The engine has logged in already (a root read of
// token/sddc), so a tool that went upstream itself would add a login.
type toolWorld struct {
	r      runner
	sim    *upstream
	config string   // the runner's profiles file
	before simStats // the simulator's counters before the tool ran
	// secrets the tool's output must not hold: the password, the runner's
	// Vault token and the token the engine hands out
	secrets []string
}

func newToolWorld(t *testing.T, tv *testVault) toolWorld {
	t.Helper()
	sim := startSim(t, "vcf", "--user", "svc@vsphere.local="+password)
	writeProfile(t, tv, sim, "sddc", map[string]any{"provider": "vcf", "username": "svc@vsphere.local", "password": password})
	must(t, tv.root.Sys().PutPolicy("job-sddc", `path "`+mount+`/token/sddc" { capabilities = ["read"] }`))
	tok := policyToken(t, tv, "job-sddc")
	cur, err := tv.root.Logical().Read(mount + "/token/sddc")
	must(t, err)
	config := engineProfiles(t, tv, "sddc")
	return toolWorld{r: newRunners(t, 1, config, tok)[0], sim: sim, config: config, before: sim.stats(t),
		secrets: []string{password, tok, cur.Data["token"].(string)}}
}

// check asserts the tool's outcome: its output holds no secret, and at
// least calls more requests reached the simulator's protected resource
// with the engine's one login the only one upstream.
func (w toolWorld) check(t *testing.T, tool, out string, calls int64) {
	t.Helper()
	noCanary(t, tool+" output", out, w.secrets...)
	after := w.sim.stats(t)
	figure(t, "%s through the engine: upstream logins %d → %d, protected calls %d → %d",
		tool, w.before.Logins, after.Logins, w.before.APICalls, after.APICalls)
	if w.before.Logins != 1 || after.Logins != 1 || after.LoginFailures != 0 || after.Unauthorized != 0 ||
		after.APICalls < w.before.APICalls+calls {
		t.Errorf("simulator saw %+v before %s and %+v after; want the engine's 1 login only, %d more protected calls, no 401",
			w.before, tool, after, calls)
	}
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
	w := newToolWorld(t, tv)
	dir := t.TempDir()
	env := append(w.r.env, "ANSIBLE_COLLECTIONS_PATH="+filepath.Join(dir, "collections"),
		"ANSIBLE_HOME="+filepath.Join(dir, "home"), "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"), "ANSIBLE_NOCOLOR=1", "PYTHONDONTWRITEBYTECODE=1")
	galaxy := filepath.Join(filepath.Dir(playbook), "ansible-galaxy")
	runTool(t, env, galaxy, "collection", "install", collection, "-p", filepath.Join(dir, "collections"))

	extra, _ := json.Marshal(map[string]string{"sim_url": w.sim.URL, "sim_ca": w.sim.CAFile, "tokenkeeper_helper_path": w.r.bin})
	out := runTool(t, env, playbook, "-v", "-i", "localhost,", "testdata/lookup.yml", "-e", string(extra))
	w.check(t, "ansible-playbook", out, 2)
}

// packerBuild installs the plugin with `packer plugins install --path`
// and builds the plugin's documented example, whose data source and
// `tokenkeeper get` provisioner each call the protected resource.
func packerBuild(t *testing.T, tv *testVault) {
	packer := hostTool(t, "TOKENKEEPER_PACKER", "packer")
	plugin := hostTool(t, "TOKENKEEPER_PACKER_PLUGIN", "packer-plugin-tokenkeeper")
	w := newToolWorld(t, tv)
	dir := t.TempDir()
	env := append(w.r.env, "PACKER_CONFIG_DIR="+filepath.Join(dir, "config"), "PACKER_PLUGIN_PATH="+filepath.Join(dir, "plugins"),
		"PACKER_CACHE_DIR="+filepath.Join(dir, "cache"), "CHECKPOINT_DISABLE=1")
	runTool(t, env, packer, "plugins", "install", "--path", plugin, "github.com/tokenkeeper/tokenkeeper")

	out := runTool(t, env, packer, "build", "-color=false", "-var", "sddc_url="+w.sim.URL, "-var", "ca_file="+w.sim.CAFile,
		"-var", "tokenkeeper_config="+w.config, "-var", "tokenkeeper="+w.r.bin,
		filepath.Join("..", "..", "packer", "example", "sddc.pkr.hcl"))
	for _, want := range []string{"data source token: GET /v1/domains -> HTTP 200", "fresh token: GET /v1/domains -> HTTP 200"} {
		if !strings.Contains(out, want) {
			t.Errorf("packer build printed no %q", want)
		}
	}
	w.check(t, "packer build", out, 2)
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
		t.Skipf("%s not found (set $%s, or run `make e2e-engine`, which provides it)", name, env)
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
