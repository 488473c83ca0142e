// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The documented example, run as a user would.
var exampleTemplate = mustAbs(filepath.Join("..", "example", "sddc.pkr.hcl"))

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

func (w *world) exampleVars() []string {
	return []string{"-var", "sddc_url=" + w.simURL, "-var", "ca_file=" + w.caFile}
}

// Outputs of the example's two provisioners when their curl got a 200.
const (
	dataSourceCallOK = "data source token: GET /v1/domains -> HTTP 200"
	freshTokenCallOK = "fresh token: GET /v1/domains -> HTTP 200"
	redactedHeader   = "header Authorization: <sensitive>"
)

// No agent runs: the data source launches tokenkeeper as a go-plugin child
// for the one call and the child revokes its refresh token as it exits; the
// access token it handed out still works for the build.
func TestBuildWithLaunchedHelper(t *testing.T) {
	w := newWorld(t)
	w.installPlugin()
	// The example's second provisioner runs `tokenkeeper get`, which starts
	// an agent in this world: stop it at the end.
	t.Cleanup(w.stopAgent)

	validate := w.packer(append(append([]string{"validate", "-evaluate-datasources"}, w.exampleVars()...), exampleTemplate)...)
	if validate.code != 0 {
		t.Fatalf("packer validate -evaluate-datasources: exit %d:\n%s", validate.code, redact(validate.out))
	}
	assertNoToken(t, "packer validate", validate.out)

	build := w.packer(append(append([]string{"build", "-color=false"}, w.exampleVars()...), exampleTemplate)...)
	if build.code != 0 {
		t.Fatalf("packer build: exit %d:\n%s", build.code, redact(build.out))
	}
	assertContains(t, "packer build", build.out, dataSourceCallOK, freshTokenCallOK, redactedHeader)
	assertNoToken(t, "packer build", build.out)

	s := w.stats()
	// validate and build each launched a child that logged in and revoked
	// on exit; the agent started by `tokenkeeper get` logged in once more.
	if s.Logins != 3 || s.Revocations < 2 || s.Unauthorized != 0 || s.LoginFailures != 0 {
		t.Errorf("simulator saw %+v; want 3 logins, ≥ 2 revocations, no 401s or failed logins", s)
	}
}

// An agent runs (started as a user would): both data source evaluations and
// both `tokenkeeper get` calls go through it, so upstream sees one login
// across two builds, and the revocation happens only when the agent stops.
// The second build runs with PACKER_LOG=1: Packer's debug log (which shows
// plugin logs and shell-local's environment) must not hold the token either.
func TestBuildDialsRunningAgent(t *testing.T) {
	w := newWorld(t)
	w.installPlugin()
	w.startAgent()

	for i, extra := range [][]string{nil, {"PACKER_LOG=1"}} {
		args := append(append([]string{"build", "-color=false"}, w.exampleVars()...), exampleTemplate)
		build := w.runEnv(extra, packerTimeout, w.bin.packer, args...)
		if build.code != 0 {
			t.Fatalf("packer build #%d: exit %d:\n%s", i+1, build.code, redact(build.out))
		}
		assertContains(t, "packer build", build.out, dataSourceCallOK, freshTokenCallOK, redactedHeader)
		assertNoToken(t, "packer build", build.out)
		if extra != nil { // the plugin's own log line says which way it went
			assertContains(t, "PACKER_LOG=1 build", build.out, "tokenkeeper: got token: profile=sddc", "agent=true")
		}
	}
	if s := w.stats(); s.Logins != 1 || s.Revocations != 0 || s.Unauthorized != 0 || s.APICalls < 4 {
		t.Errorf("simulator saw %+v during the builds; want exactly 1 login (the agent's), no revocation, no 401, ≥ 4 API calls", s)
	}
	w.stopAgent()
	if s := w.stats(); s.Revocations != 1 {
		t.Errorf("after agent stop the simulator saw %d revocations, want 1", s.Revocations)
	}
}

// The same data source with an explicit `config`: the agent of that file is
// the one to ask; none runs, so a child is launched with the file.
func TestBuildWithExplicitConfig(t *testing.T) {
	w := newWorld(t)
	w.installPlugin()
	t.Cleanup(w.stopAgentOf)
	// Move the profiles file away from the default location so only the
	// explicit path can find it.
	explicit := filepath.Join(w.dir, "lab.yaml")
	if err := os.Rename(w.configPath, explicit); err != nil {
		t.Fatal(err)
	}
	w.configPath = explicit

	args := append(append([]string{"build", "-color=false", "-var", "tokenkeeper_config=" + explicit}, w.exampleVars()...), exampleTemplate)
	build := w.packer(args...)
	if build.code != 0 {
		t.Fatalf("packer build: exit %d:\n%s", build.code, redact(build.out))
	}
	assertContains(t, "packer build", build.out, dataSourceCallOK, freshTokenCallOK, redactedHeader)
	assertNoToken(t, "packer build", build.out)
}

// A profile the profiles file lacks fails both validation with data source
// evaluation and the build, with tokenkeeper's own message, and never
// reaches upstream.
func TestUnknownProfileFails(t *testing.T) {
	w := newWorld(t)
	w.installPlugin()
	tmpl := mustAbs(filepath.Join("testdata", "unknown-profile.pkr.hcl"))
	for _, args := range [][]string{
		{"validate", "-evaluate-datasources", tmpl},
		{"build", "-color=false", tmpl},
	} {
		r := w.packer(args...)
		if r.code == 0 {
			t.Errorf("packer %s: succeeded, want a failure:\n%s", args[0], redact(r.out))
			continue
		}
		// The helper's message names the profile and the ones it knows.
		assertContains(t, "packer "+args[0], r.out, `unknown profile`, `"nope"`, `sddc`)
		assertNoToken(t, "packer "+args[0], r.out)
	}
	if s := w.stats(); s.Logins != 0 || s.LoginFailures != 0 {
		t.Errorf("simulator saw %+v; an unknown profile must not reach upstream", s)
	}
}

// A block without `profile` is rejected by Configure, before any helper runs.
func TestMissingProfileFailsValidate(t *testing.T) {
	w := newWorld(t)
	w.installPlugin()
	r := w.packer("validate", mustAbs(filepath.Join("testdata", "no-profile.pkr.hcl")))
	if r.code == 0 {
		t.Fatalf("packer validate: succeeded, want a failure:\n%s", r.out)
	}
	assertContains(t, "packer validate", r.out, `"profile" is required`)
}

// startAgent runs `tokenkeeper agent` in the foreground for this world's
// default profiles file and waits for its socket.
func (w *world) startAgent() {
	t := w.t
	t.Helper()
	logf, err := os.Create(filepath.Join(w.dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logf.Close() })
	cmd := exec.Command(w.bin.tokenkeeper, "agent")
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = w.env, w.dir, logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited: // stopped by the test
		default:
			stopProcess(t, cmd.Process, exited, "agent")
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		socks, _ := filepath.Glob(filepath.Join(w.dir, "run", "tokenkeeper", "agent-*.sock"))
		if len(socks) > 0 {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("agent exited before serving: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent socket not there within %s", startTimeout)
		}
	}
}

// stopAgentOf stops the agent of w.configPath (the explicit file).
func (w *world) stopAgentOf() {
	if r := w.run(stopTimeout+5*time.Second, w.bin.tokenkeeper, "agent", "stop", "--config", w.configPath); r.code != 0 {
		w.t.Errorf("tokenkeeper agent stop --config: exit %d:\n%s", r.code, redact(r.out))
	}
}

// A Cloud Director session is logged out when the tokenkeeper that holds it
// exits: without an agent the data source refuses (rather than hand out a
// dead token); with one it succeeds and the session stays alive.
func TestCloudDirectorNeedsAgent(t *testing.T) {
	w := newWorldOf(t, vcdUpstream, "vcd")
	w.installPlugin()
	tmpl := mustAbs(filepath.Join("testdata", "vcd.pkr.hcl"))

	r := w.packer("validate", "-evaluate-datasources", tmpl)
	if r.code == 0 {
		t.Fatalf("packer validate without an agent: succeeded, want the Cloud Director refusal:\n%s", redact(r.out))
	}
	assertContains(t, "packer validate", r.out, `profile "vcd" is a Cloud Director profile`, "start the agent first")
	assertNoToken(t, "packer validate", r.out)
	// The reason for the refusal: the launched child logged in, and its
	// session was gone as soon as it exited.
	if s := w.stats(); s.Logins != 1 || s.ActiveSessions != 0 {
		t.Errorf("after the launched child: simulator saw %+v, want 1 login and 0 active sessions", s)
	}

	w.startAgent()
	r = w.packer("build", "-color=false", tmpl)
	if r.code != 0 {
		t.Fatalf("packer build with an agent: exit %d:\n%s", r.code, redact(r.out))
	}
	assertContains(t, "packer build", r.out, "vcd token sha256:", ": <sensitive>")
	assertNoToken(t, "packer build", r.out)
	if s := w.stats(); s.ActiveSessions != 1 {
		t.Errorf("simulator has %d active sessions after the build, want 1 (the agent's)", s.ActiveSessions)
	}
	w.stopAgent()
}

// The shipped example validates with plain `packer validate`, which does
// not run data sources: its provisioners take the data source's values in
// an env map, which Packer can check while they are still unknown.
func TestExampleValidatesWithoutDataSources(t *testing.T) {
	w := newWorld(t)
	w.installPlugin()
	r := w.packer(append(append([]string{"validate"}, w.exampleVars()...), exampleTemplate)...)
	if r.code != 0 {
		t.Fatalf("packer validate: exit %d:\n%s", r.code, redact(r.out))
	}
	if s := w.stats(); s.Logins != 0 {
		t.Errorf("packer validate logged in %d times; it runs no data source", s.Logins)
	}
}

// The profiles file is edited while an agent runs: the agent retires at
// the data source's call ("this agent is exiting; retry"), and the build
// still succeeds — the data source's host.Dial runs the call again, and
// with no agent taking over launches the helper, as when none runs.
func TestBuildAfterProfilesFileEdit(t *testing.T) {
	w := newWorld(t)
	w.installPlugin()
	w.startAgent()
	t.Cleanup(w.stopAgent) // the example's `tokenkeeper get` starts a new one
	if r := w.run(stopTimeout, w.bin.tokenkeeper, "get", "--profile", "sddc", "--format", "token"); r.code != 0 {
		t.Fatalf("tokenkeeper get through the agent: exit %d:\n%s", r.code, redact(r.out))
	}
	old, err := os.ReadFile(w.configPath)
	if err != nil {
		t.Fatal(err)
	}
	w.writeConfig("# edited while the agent runs\n" + string(old))
	args := append(append([]string{"build", "-color=false"}, w.exampleVars()...), exampleTemplate)
	build := w.runEnv([]string{"PACKER_LOG=1"}, packerTimeout, w.bin.packer, args...)
	if build.code != 0 {
		t.Fatalf("packer build after the edit: exit %d:\n%s", build.code, redact(build.out))
	}
	assertContains(t, "packer build", build.out, dataSourceCallOK, freshTokenCallOK, redactedHeader,
		"the tokenkeeper agent went away; launching the helper", "agent=false")
	assertNoToken(t, "packer build", build.out)
}
