package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAgentFollowsCallerEnv is the quick-start flow with a mistake: the
// agent resolves {env: …} from the environment it started with, so a
// caller who fixes the variable must reach an agent that has the fix.
// Unset → refused without an upstream call; wrong → exit 3 and one failed
// login; right → a token at once (the guard sees another credential), one
// successful login, still one failure; `agent stop` ends every agent of
// the file and each revokes. No value reaches an argv, a file name or a log.
func TestAgentFollowsCallerEnv(t *testing.T) {
	const wrong = "wrong-env-pw-7"
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"))
	base := tk.env

	r := tk.run(t, nil, "get", "--profile", "sddc")
	if doc := checkErrorOutput(t, r); r.code != 2 || !strings.Contains(doc.Error.Message, "not set") {
		t.Fatalf("get without the variable: exit %d, %q; want 2 and 'not set'", r.code, doc.Error.Message)
	}
	tk.env = append(base[:len(base):len(base)], "TK_E2E_PW="+wrong)
	r = tk.run(t, nil, "get", "--profile", "sddc")
	if doc := checkErrorOutput(t, r, wrong); r.code != 3 || doc.Error.Code != "Unauthenticated" {
		t.Fatalf("get with the wrong password: exit %d, %s; want 3, Unauthenticated (not the unset agent's answer)", r.code, doc.Error.Code)
	}
	if st := s.Stats(t); st.LoginFailures != 1 || st.Logins != 0 {
		t.Fatalf("after the wrong password: %+v, want 1 failed login", st)
	}

	tk.env = append(base[:len(base):len(base)], pwEnv)
	start := time.Now()
	r = tk.run(t, nil, "get", "--profile", "sddc")
	var doc tokenDoc
	if err := strictDecode(r.stdout, &doc); r.code != 0 || err != nil {
		t.Fatalf("get after fixing the variable: exit %d (%v): %s", r.code, err, r.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the fixed password took %s: it waited for a backoff", d)
	}
	if s.Domains(t, doc.Header) != http.StatusOK {
		t.Fatal("the token was not accepted by GET /v1/domains")
	}
	if st := s.Stats(t); st.Logins != 1 || st.LoginFailures != 1 {
		t.Fatalf("after the fix: %+v, want 1 login and still 1 failure", st)
	}
	pids := tk.agentPIDs(t)
	if len(pids) != 3 {
		t.Fatalf("%d agents, want one per view of TK_E2E_PW (3): %v", len(pids), pids)
	}
	checkNoValues(t, tk, pids, wrong, e2ePassword)

	if r := tk.run(t, nil, "agent", "stop"); r.code != 0 || strings.Count(r.stderr, "stopped") != 3 {
		t.Fatalf("agent stop: exit %d: %s; want all 3 agents stopped", r.code, r.stderr)
	}
	for _, pid := range pids {
		if !pidGone(pid) {
			t.Errorf("agent %d still running after agent stop", pid)
		}
	}
	if st := s.Stats(t); st.Revocations != 1 || st.ActiveSessions != 0 {
		t.Errorf("after agent stop: %+v, want the one refresh token revoked", st)
	}
}

// checkNoValues: no secret value in the agents' command lines, in the
// names of the runtime directory, or in the agents' logs.
func checkNoValues(t *testing.T, tk *tkEnv, pids []int, values ...string) {
	t.Helper()
	var hay []string
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		hay = append(hay, string(b))
	}
	dir := filepath.Join(tk.runtime, "tokenkeeper")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := 0
	for _, e := range entries {
		hay = append(hay, e.Name())
		if strings.HasSuffix(e.Name(), ".log") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			hay = append(hay, string(b))
			logs++
		}
	}
	if logs != len(pids) {
		t.Errorf("%d agent logs for %d agents", logs, len(pids))
	}
	for _, h := range hay {
		for _, v := range values {
			if strings.Contains(h, v) {
				t.Fatal("a secret value appears in an argv, a runtime file name or an agent log")
			}
		}
	}
}

// TestAgentEnvironmentHasNoExecToken: a get run inside `tokenkeeper exec`
// (TOKENKEEPER_TOKEN and TOKENKEEPER_HEADER_VALUE set) starts an agent
// whose environment — and that of the secret commands it runs — holds
// neither, while it keeps what it needs ({env: …} secrets).
func TestAgentEnvironmentHasNoExecToken(t *testing.T) {
	const outer = "outer-exec-token-5"
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	// The secret command fails when it sees the token: the login would.
	cmd := `{command: [sh, -c, 'test -z "$TOKENKEEPER_TOKEN$TOKENKEEPER_HEADER_VALUE" && printf %s "$TK_E2E_PW"']}`
	tk := newTK(t, vcfConfig(s, e2eUser, cmd), pwEnv,
		"TOKENKEEPER_TOKEN="+outer, "TOKENKEEPER_HEADER_NAME=Authorization", "TOKENKEEPER_HEADER_VALUE=Bearer "+outer)
	if r := tk.run(t, nil, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get inside exec: exit %d: %s", r.code, r.stderr)
	}
	pids := tk.agentPIDs(t)
	if len(pids) != 1 {
		t.Fatalf("agents: %v", pids)
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(pids[0]) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(string(environ), "\x00")
	for _, v := range vars {
		if strings.HasPrefix(v, "TOKENKEEPER_TOKEN=") || strings.HasPrefix(v, "TOKENKEEPER_HEADER_") || strings.Contains(v, outer) {
			t.Errorf("the agent's environment holds %s", strings.SplitN(v, "=", 2)[0])
		}
	}
	if !strings.Contains(string(environ), pwEnv) {
		t.Error("the agent lost the variable its secret reads")
	}
}

// TestAgentSurvivesIdenticalRewrite: a tool that re-renders the profiles
// file with the same bytes (new mtime, new inode) leaves the agent and its
// tokens alone: no second login.
func TestAgentSurvivesIdenticalRewrite(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	cfg := vcfConfig(s, e2eUser, "{env: TK_E2E_PW}")
	tk := newTK(t, cfg, pwEnv)
	if r := tk.run(t, nil, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get: exit %d: %s", r.code, r.stderr)
	}
	before := tk.agentPIDs(t)
	tmp := tk.config + ".new"
	later := time.Now().Add(time.Minute)
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, later, later); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, tk.config); err != nil {
		t.Fatal(err)
	}
	if r := tk.run(t, nil, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get after the rewrite: exit %d: %s", r.code, r.stderr)
	}
	if after := tk.agentPIDs(t); len(before) != 1 || len(after) != 1 || after[0] != before[0] {
		t.Errorf("agents before %v, after %v: want the same one", before, after)
	}
	if st := s.Stats(t); st.Logins != 1 {
		t.Errorf("%d logins, want 1: the rewrite restarted the agent", st.Logins)
	}
}
