package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestGuardAcrossProcesses: DESIGN rule 6 holds across processes. With a
// wrong password, five `get --no-agent`, a `config check --online`, a get
// through an agent and one through a fresh agent after `agent stop` — each
// its own keeper — cost exactly one failed login upstream, so the account
// (5 failures in 180 s locks it) stays usable with the right password.
func TestGuardAcrossProcesses(t *testing.T) {
	const wrong = "wrong-guard-pw"
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), "TK_E2E_PW="+wrong)

	for i := range 5 {
		r := tk.run(t, nil, "get", "--no-agent", "--profile", "sddc")
		wantCode := "FailedPrecondition"
		if i == 0 {
			wantCode = "Unauthenticated"
		}
		if doc := checkErrorOutput(t, r, wrong); r.code != 3 || doc.Error.Code != wantCode {
			t.Fatalf("get --no-agent #%d: exit %d, %s; want 3, %s", i+1, r.code, doc.Error.Code, wantCode)
		}
	}
	r := tk.run(t, nil, "config", "check", "--online")
	if r.code != 3 || !strings.Contains(r.stdout, "sddc: FAILED (FailedPrecondition)") {
		t.Fatalf("config check --online: exit %d, stdout %q; want 3 and the guard refusing", r.code, r.stdout)
	}
	for _, step := range []string{"agent", "new agent"} {
		r := tk.run(t, nil, "get", "--profile", "sddc")
		if doc := checkErrorOutput(t, r, wrong); r.code != 3 || doc.Error.Code != "FailedPrecondition" {
			t.Fatalf("get through the %s: exit %d, %s; want 3, FailedPrecondition", step, r.code, doc.Error.Code)
		}
		if r := tk.run(t, nil, "agent", "stop"); r.code != 0 {
			t.Fatalf("agent stop: exit %d: %s", r.code, r.stderr)
		}
	}
	if st := s.Stats(t); st.LoginFailures != 1 || st.Logins != 0 {
		t.Fatalf("simulator: %d failed logins, %d logins; want exactly 1 failed", st.LoginFailures, st.Logins)
	}
	checkGuardFile(t, filepath.Join(tk.runtime, "tokenkeeper", "guard.json"), wrong)

	// The sim locks per user: the right password for the same user works.
	good := filepath.Join(tk.dir, "good.yaml")
	cfg := strings.Replace(vcfConfig(s, e2eUser, "{env: TK_E2E_GOOD}"), "  sddc:", "  good:", 1)
	if err := os.WriteFile(good, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tk.env = append(tk.env, "TK_E2E_GOOD="+e2ePassword)
	r = tk.run(t, nil, "--config", good, "get", "--no-agent", "--profile", "good")
	var doc tokenDoc
	if err := strictDecode(r.stdout, &doc); r.code != 0 || err != nil || doc.Token == "" {
		t.Fatalf("the right password after the loop: exit %d (%v): %s", r.code, err, r.stderr)
	}
	if st := s.Stats(t); st.LoginFailures != 1 || st.Logins != 1 {
		t.Fatalf("simulator: %d failed logins, %d logins; want 1 and 1", st.LoginFailures, st.Logins)
	}
}

// checkGuardFile: the shared guard is a private file that holds neither the
// password nor any short form of it.
func checkGuardFile(t *testing.T, path, password string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no guard file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), password) {
		t.Fatal("the guard file holds the password")
	}
	if !strings.Contains(string(data), `"failures": 1`) {
		t.Fatalf("the guard file does not record one failure:\n%s", data)
	}
}

// TestGuardParallelNoAgent: processes started at the same moment, with no
// record yet, take turns through the guard file's login lock — one tries,
// the others read its rejection. Six at once cost one failed login.
func TestGuardParallelNoAgent(t *testing.T) {
	const wrong, n = "wrong-parallel-pw", 6
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), "TK_E2E_PW="+wrong)
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = tk.run(t, nil, "get", "--no-agent", "--profile", "sddc") })
	}
	wg.Wait()
	count := map[string]int{}
	for _, r := range results {
		if doc := checkErrorOutput(t, r, wrong); r.code == 3 {
			count[doc.Error.Code]++
		}
	}
	if count["Unauthenticated"] != 1 || count["FailedPrecondition"] != n-1 {
		t.Errorf("codes %v, want 1 Unauthenticated and %d FailedPrecondition", count, n-1)
	}
	if st := s.Stats(t); st.LoginFailures != 1 {
		t.Fatalf("simulator: %d failed logins from %d parallel processes, want 1", st.LoginFailures, n)
	}
}
