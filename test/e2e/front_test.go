package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// TestFrontServesTheHotPath: with a warm agent, the front alone — no
// tokenkeeper-core beside it — serves get (flags, formats, a request on
// stdin), env, exec and invalidate, and answers an agent's error with the
// core's exit code, Error document and stderr line. What it must leave to
// the core (another verb, a profiles file changed since the agent
// started) ends in its one-line "not installed" error, exit 1.
func TestFrontServesTheHotPath(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	warm := tk.get(t, "sddc") // the core starts the agent
	lone := alone(t, tk)

	if got := lone.get(t, "sddc"); got.Fingerprint != warm.Fingerprint || got.URL != s.URL || got.CAFile == "" {
		t.Fatalf("front alone: %+v, want the agent's token %s with url and caFile", got, warm.Fingerprint)
	}
	if r := lone.run(t, nil, "get", "-p", "sddc", "-o", "header"); r.code != 0 || r.stdout != "Authorization: Bearer "+warm.Token+"\n" {
		t.Fatalf("--format header: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	req := []byte(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":"1m"}`)
	if r := lone.run(t, req, "get"); r.code != 0 || !strings.Contains(r.stdout, warm.Fingerprint) {
		t.Fatalf("request on stdin: exit %d %s", r.code, r.stderr)
	}
	if r := lone.run(t, nil, "env", "--profile=sddc"); r.code != 0 || !strings.Contains(r.stdout, "export TOKENKEEPER_TOKEN='"+warm.Token+"'") {
		t.Fatalf("env: exit %d %s", r.code, r.stderr)
	}
	if r := lone.run(t, nil, "exec", "-p", "sddc", "--", "sh", "-c", `test "$TOKENKEEPER_TOKEN" = "`+warm.Token+`" && exit 7`); r.code != 7 {
		t.Fatalf("exec: exit %d %s", r.code, r.stderr)
	}
	if r := lone.run(t, nil, "exec", "-p", "sddc", "--", "tokenkeeper-no-such-program"); r.code != 127 {
		t.Fatalf("exec of a missing command: exit %d %s", r.code, r.stderr)
	}

	// An agent's error: as the core prints it.
	core := filepath.Join(filepath.Dir(tk.bin), "tokenkeeper-core")
	coreTK := *tk
	coreTK.bin = core
	for _, args := range [][]string{{"get", "--profile", "nosuch"}, {"get", "--profile", "nosuch", "-o", "token"}, {"env", "-p", "nosuch"}} {
		a, b := lone.run(t, nil, args...), coreTK.run(t, nil, args...)
		if a.code != 2 || a != b {
			t.Errorf("%q: front alone exit %d %q %q; core exit %d %q %q", args, a.code, a.stdout, a.stderr, b.code, b.stdout, b.stderr)
		}
	}

	if r := lone.run(t, nil, "invalidate", "-p", "sddc", "--fingerprint", warm.Fingerprint); r.code != 0 || r.stdout != "" {
		t.Fatalf("invalidate: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if got := lone.get(t, "sddc"); got.Fingerprint == warm.Fingerprint {
		t.Fatalf("after invalidate the agent still serves %s", got.Fingerprint)
	}

	notInstalled := func(args ...string) {
		t.Helper()
		r := lone.run(t, nil, args...)
		if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
			!strings.Contains(r.stderr, "is not installed: looked for "+filepath.Join(filepath.Dir(lone.bin), "tokenkeeper-core")) {
			t.Errorf("%q: exit %d %q %q, want the one-line missing-core error", args, r.code, r.stdout, r.stderr)
		}
	}
	notInstalled("status")
	notInstalled("get", "--profile", "sddc", "--no-agent")
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(tk.config, later, later); err != nil {
		t.Fatal(err)
	}
	notInstalled("get", "--profile", "sddc") // changed since the agent started: the core loads it
}

// TestFrontAfterAnUnchangedRewrite: a profiles file rewritten with the
// same bytes (a template re-rendered, a checkout) keeps its agent, and so
// the front: the first call after the rewrite goes through the core, the
// file being newer than the agent's names file; the agent, finding the
// same bytes, refreshes its names file, and the next call is the front's
// alone again instead of the core's forever.
func TestFrontAfterAnUnchangedRewrite(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	warm := tk.get(t, "sddc") // the core starts the agent, which writes its names file
	lone := alone(t, tk)
	names := tk.namesFile(t)
	// The names file written well before the rewrite, whatever the clock's tick.
	past := time.Now().Add(-time.Minute)
	if err := os.Chtimes(names, past, past); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(tk.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tk.config, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := lone.run(t, nil, "get", "--profile", "sddc"); r.code != 1 || !strings.Contains(r.stderr, "is not installed") {
		t.Fatalf("front alone after the rewrite: exit %d %q, want the call handed to the (missing) core", r.code, r.stderr)
	}
	if got := tk.get(t, "sddc"); got.Fingerprint != warm.Fingerprint { // through the core
		t.Fatalf("after a rewrite of the same bytes: token %s, want the same agent's %s", got.Fingerprint, warm.Fingerprint)
	}
	r := lone.run(t, nil, "get", "--profile", "sddc")
	if r.code != 0 || !strings.Contains(r.stdout, warm.Fingerprint) {
		t.Fatalf("front alone once the agent saw the rewrite: exit %d %q, want the agent's token", r.code, r.stderr)
	}
}

// namesFile is the path of the names file of tk's agent.
func (tk *tkEnv) namesFile(t *testing.T) string {
	t.Helper()
	dir, err := paths.OpenRuntimeDir(tk.getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	a, err := paths.Locate(dir, tk.config, "")
	if err != nil {
		t.Fatal(err)
	}
	return a.Names
}

// TestFrontHandsAReadRequestOn: with no agent running, a request the
// front read from stdin reaches the core as flags: the core starts the
// agent and answers what the request asked.
func TestFrontHandsAReadRequestOn(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	req := []byte(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":"1m","forceRefresh":true}`)
	r := tk.run(t, req, "get", "--format", "json")
	var doc tokenDoc
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &doc) != nil || doc.Profile != "sddc" {
		t.Fatalf("exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if len(tk.agentPIDs(t)) != 1 {
		t.Fatalf("agents %v, want the one the core started", tk.agentPIDs(t))
	}
}

// TestFrontStartsTheAgent: with no agent running but a names file as new
// as the profiles file (an agent served this configuration before), the
// front starts the agent itself — the core binary, run as `agent
// --detached` — instead of handing the whole call to the core, and
// answers from it. The core beside this front is a script that records
// how it was called and runs the real core.
func TestFrontStartsTheAgent(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	tk.get(t, "sddc") // the core starts an agent, which writes the names file
	if r := tk.run(t, nil, "agent", "stop"); r.code != 0 {
		t.Fatalf("agent stop: exit %d %s", r.code, r.stderr)
	}
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	lone := *tk
	lone.bin = filepath.Join(dir, "tokenkeeper")
	if err := copyFile(tk.bin, lone.bin); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(filepath.Dir(tk.bin), "tokenkeeper-core")
	script := "#!/bin/sh\necho \"$1\" >> " + calls + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "tokenkeeper-core"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := lone.get(t, "sddc"); got.Profile != "sddc" {
		t.Fatalf("get: %+v", got)
	}
	b, err := os.ReadFile(calls)
	if err != nil || string(b) != "agent\n" {
		t.Fatalf("the core was called as %q (%v), want only `agent` (started by the front)", b, err)
	}
	if pids := tk.agentPIDs(t); len(pids) != 1 {
		t.Fatalf("agents %v, want one", pids)
	}
}

// TestFrontKeepsTheCallersTimeout: a short --timeout against an upstream
// that refuses connections is served by the front alone (no core beside
// it): the exec protocol carries the deadline, so the agent answers
// before it with the cause, and the front prints what the core prints —
// the exit code and the Error document, byte for byte but for how long
// each waited (sameWait: two calls cannot wait the same milliseconds).
func TestFrontKeepsTheCallersTimeout(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	tk := newTK(t, downConfig(addr), "TK_E2E_PW="+e2ePassword)
	coreTK := *tk
	coreTK.bin = filepath.Join(filepath.Dir(tk.bin), "tokenkeeper-core")
	lone := alone(t, tk)
	args := []string{"get", "--profile", "down", "--timeout", "2s"}
	if r := coreTK.run(t, nil, args...); r.code != 5 { // starts the agent
		t.Fatalf("core: exit %d %q, want 5 (unavailable)", r.code, r.stderr)
	}
	for _, extra := range [][]string{nil, {"-o", "token"}} {
		a := lone.run(t, nil, append(args, extra...)...)
		b := coreTK.run(t, nil, append(args, extra...)...)
		if a.code != 5 || a.code != b.code || !sameWait(t, a.stdout, b.stdout, 2*time.Second) || !sameWait(t, a.stderr, b.stderr, 2*time.Second) {
			t.Errorf("%q: front alone exit %d %q %q; core exit %d %q %q", extra, a.code, a.stdout, a.stderr, b.code, b.stdout, b.stderr)
		}
		if !strings.Contains(a.stderr, "connection refused") || !strings.Contains(a.stderr, addr) {
			t.Errorf("front alone: %q does not name the cause", a.stderr)
		}
	}
}

// waited is the "after 1.8s" of a message that says how long a call
// waited for upstream.
var waited = regexp.MustCompile(`after ([0-9][0-9.]*(?:ms|s))`)

// sameWait reports whether a and b are the same text but for the waits
// they name, each of which must be under limit (the caller's --timeout:
// the agent answers before it) and more than half of it (it did wait).
func sameWait(t *testing.T, a, b string, limit time.Duration) bool {
	t.Helper()
	for _, s := range []string{a, b} {
		for _, m := range waited.FindAllStringSubmatch(s, -1) {
			d, err := time.ParseDuration(m[1])
			if err != nil || d > limit || d <= limit/2 {
				t.Errorf("waited %s (%v), want more than %s and at most %s", m[1], err, limit/2, limit)
				return false
			}
		}
	}
	return waited.ReplaceAllString(a, "after D") == waited.ReplaceAllString(b, "after D")
}

// alone is tk with a copy of its front that has no core beside it: a
// call it hands to the core fails, naming the core's path.
func alone(t *testing.T, tk *tkEnv) tkEnv {
	t.Helper()
	lone := *tk
	lone.bin = filepath.Join(t.TempDir(), "tokenkeeper")
	if err := copyFile(tk.bin, lone.bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(lone.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return lone
}
