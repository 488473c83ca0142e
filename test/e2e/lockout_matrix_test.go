package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil/faultproxy"
)

// The lockout fault matrix of issue 9: each row drives the real binaries
// against tokenkeeper-sim (through faultproxy where the network is the
// fault) and asserts what the simulator counted — failed logins — and
// that the account is not locked. Every row logs its count, so that the
// same tests run against an older build measure the "before".

const matrixWrong = "Wrong-matrix-pw1"

// profileYAML is one vcf profile entry of a profiles file.
func profileYAML(name, url, caFile, user, password string, extra ...string) string {
	s := fmt.Sprintf("  %s:\n    provider: vcf\n    url: %s\n    ca_file: %s\n    username: %s\n    password: %s\n",
		name, url, caFile, user, password)
	for _, e := range extra {
		s += "    " + e + "\n"
	}
	return s
}

// writeConfig writes a profiles file of entries into tk's directory.
func writeConfig(t *testing.T, tk *tkEnv, file string, entries ...string) string {
	t.Helper()
	path := filepath.Join(tk.dir, file)
	if err := os.WriteFile(path, []byte("profiles:\n"+strings.Join(entries, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkRow logs the row's failed logins, then asserts exactly want — a
// row that expects one failed login and sees none proves nothing — and
// that the account still logs in with the right password.
func checkRow(t *testing.T, s *Sim, row string, want int64, user, password string) {
	t.Helper()
	st := s.Stats(t)
	t.Logf("MATRIX %s: loginFailures=%d logins=%d", row, st.LoginFailures, st.Logins)
	if st.LoginFailures != want {
		t.Errorf("%s: %d failed logins upstream, want exactly %d", row, st.LoginFailures, want)
	}
	if code := s.Login(t, user, password); code != http.StatusOK && code != http.StatusCreated {
		t.Errorf("%s: the account no longer logs in with the right password (HTTP %d): locked", row, code)
	}
}

// Row a: six profile names for one account — in one file, or one each in
// six files — with the same wrong password spend one budget.
func TestMatrixSixProfilesOneAccount(t *testing.T) {
	for _, layout := range []string{"one file", "six files"} {
		t.Run(layout, func(t *testing.T) {
			s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
			tk := newTK(t, "", "TK_E2E_PW="+matrixWrong)
			names := []string{"sddc", "sddc-packer", "sddc-ansible", "ci", "ops", "backup"}
			var entries []string
			for _, n := range names {
				entries = append(entries, profileYAML(n, s.URL, s.CAFile, e2eUser, "{env: TK_E2E_PW}"))
			}
			configs := map[string]string{}
			if layout == "one file" {
				path := writeConfig(t, tk, "all.yaml", entries...)
				for _, n := range names {
					configs[n] = path
				}
			} else {
				for i, n := range names {
					configs[n] = writeConfig(t, tk, n+".yaml", entries[i])
				}
			}
			for _, n := range names {
				if r := tk.run(t, nil, "--config", configs[n], "get", "--no-agent", "--profile", n); r.code != 3 {
					t.Errorf("get %s: exit %d, want 3: %s", n, r.code, r.stderr)
				}
			}
			checkRow(t, s, "a/"+layout, 1, e2eUser, e2ePassword)
		})
	}
}

// Row b: two people's files both name their profile sddc at the same URL,
// for different users. A's password is wrong, B's right; runs alternate.
// B's logins never clear A's record, so A costs one failed login.
func TestMatrixSameProfileNameTwoPrincipals(t *testing.T) {
	const userB, passB = "bob@local", "Bob-right-pw1"
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN", "--user", userB+"="+passB+":ADMIN")
	tk := newTK(t, "", "TK_A_PW="+matrixWrong, "TK_B_PW="+passB)
	a := writeConfig(t, tk, "a.yaml", profileYAML("sddc", s.URL, s.CAFile, e2eUser, "{env: TK_A_PW}"))
	b := writeConfig(t, tk, "b.yaml", profileYAML("sddc", s.URL, s.CAFile, userB, "{env: TK_B_PW}"))
	for round := range 6 {
		if r := tk.run(t, nil, "--config", a, "get", "--no-agent", "--profile", "sddc"); r.code != 3 {
			t.Errorf("round %d: A's get: exit %d, want 3: %s", round, r.code, r.stderr)
		}
		if r := tk.run(t, nil, "--config", b, "get", "--no-agent", "--profile", "sddc"); r.code != 0 {
			t.Errorf("round %d: B's get: exit %d, want 0: %s", round, r.code, r.stderr)
		}
	}
	if st := s.Stats(t); st.Logins != 6 {
		t.Errorf("B logged in %d times, want 6 (A's record must not hold B back)", st.Logins)
	}
	checkRow(t, s, "b", 1, e2eUser, e2ePassword)
}

// Row c: one server named https://127.0.0.1:P, https://localhost:P and
// https://LOCALHOST:P is one budget.
func TestMatrixOneServerThreeNames(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	port := s.URL[strings.LastIndex(s.URL, ":")+1:]
	tk := newTK(t, "", "TK_E2E_PW="+matrixWrong)
	var entries []string
	for i, host := range []string{"127.0.0.1", "localhost", "LOCALHOST"} {
		entries = append(entries, profileYAML(fmt.Sprintf("p%d", i), "https://"+host+":"+port, s.CAFile, e2eUser, "{env: TK_E2E_PW}"))
	}
	cfg := writeConfig(t, tk, "names.yaml", entries...)
	for i := range 3 {
		if r := tk.run(t, nil, "--config", cfg, "get", "--no-agent", "--profile", fmt.Sprintf("p%d", i)); r.code != 3 {
			t.Errorf("get p%d: exit %d, want 3: %s", i, r.code, r.stderr)
		}
	}
	checkRow(t, s, "c", 1, e2eUser, e2ePassword)
}

// Row d: a proxy forwards the login (the simulator counts the wrong
// password) and then drops the connection, answers 502, or answers after
// the client's timeout. The unknown outcome is one guard step: one failed
// login, however often get runs within the step.
func TestMatrixAmbiguousOutcomes(t *testing.T) {
	modes := []struct {
		name string
		mode faultproxy.Mode
	}{{"drop", faultproxy.Drop}, {"502", faultproxy.BadGateway}, {"stall", faultproxy.Stall}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
			p := faultproxy.New(s.URL, s.HTTP)
			t.Cleanup(p.Close)
			p.Set("/v1/tokens", m.mode, 30*time.Second)
			tk := newTK(t, "", "TK_E2E_PW="+matrixWrong)
			cfg := writeConfig(t, tk, "proxy.yaml", profileYAML("sddc", p.URL, s.CAFile, e2eUser, "{env: TK_E2E_PW}", "timeout: 2s"))
			for i := range 3 {
				start := time.Now()
				r := tk.run(t, nil, "--config", cfg, "get", "--no-agent", "--timeout", "20s", "--profile", "sddc")
				t.Logf("get #%d: exit %d after %s", i+1, r.code, time.Since(start).Round(100*time.Millisecond))
				if r.code == 0 {
					t.Fatalf("get #%d succeeded with a wrong password", i+1)
				}
			}
			t.Logf("the proxy forwarded %d logins", p.Forwarded())
			if p.Forwarded() < 1 {
				t.Errorf("the proxy forwarded no login: the fault was never met")
			}
			checkRow(t, s, "d/"+m.name, 1, e2eUser, e2ePassword)
		})
	}
}

// Row e: a guard store that cannot be used means no login at all (fail
// closed), exit 2 and a message naming the path.
func TestMatrixBrokenGuardStore(t *testing.T) {
	breaks := []struct {
		name  string
		setup func(t *testing.T, dir string) // dir: $XDG_RUNTIME_DIR/tokenkeeper
	}{
		{"guard.json is a directory", func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "guard.json")) }},
		{"guard.lock is a directory", func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "guard.lock")) }},
		{"runtime dir full", fillTmpfs},
		{"runtime dir not private", func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) }) // for the agent stop at cleanup
		}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
			tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), "TK_E2E_PW="+e2ePassword)
			dir := filepath.Join(tk.runtime, "tokenkeeper")
			mkdir(t, dir)
			b.setup(t, dir)
			args := []string{"get", "--no-agent", "--profile", "sddc"}
			for i := range 3 {
				if i == 2 && strings.HasSuffix(b.name, "a directory") {
					args = []string{"get", "--profile", "sddc"} // through the agent
				}
				r := tk.run(t, nil, args...)
				if r.code != 2 || !strings.Contains(r.stderr, dir) {
					t.Errorf("%v #%d: exit %d, stderr %q; want 2 naming %s", args, i+1, r.code, r.stderr, dir)
				}
			}
			// config check --online and a go-plugin child guard their
			// logins with the same store: they fail closed too.
			if r := tk.run(t, nil, "config", "check", "--online"); r.code != 2 || !strings.Contains(r.stderr+r.stdout, dir) {
				t.Errorf("config check --online: exit %d, output %q; want 2 naming %s", r.code, r.stderr+r.stdout, dir)
			}
			tkBin, _ := binaries(t)
			if c, err := launch(t, host.LaunchOptions{Path: tkBin, ConfigPath: tk.config, Env: tk.env}); err != nil {
				t.Errorf("launch: %v", err)
			} else {
				if _, err := c.Token(callCtx(t), "sddc", host.TokenOptions{}); err == nil || !strings.Contains(err.Error(), dir) {
					t.Errorf("plugin child Token: %v, want an error naming %s", err, dir)
				}
				_ = closeClient(t, c)
			}
			st := s.Stats(t)
			t.Logf("MATRIX e/%s: logins=%d loginFailures=%d", b.name, st.Logins, st.LoginFailures)
			if st.Logins+st.LoginFailures != 0 {
				t.Errorf("%d logins with a broken guard, want 0", st.Logins+st.LoginFailures)
			}
		})
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
}

// fillTmpfs mounts a 64 KiB tmpfs on dir and fills it.
func fillTmpfs(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for range 64 {
		if _, err := f.Write(buf); err != nil {
			return // full
		}
	}
	t.Fatal("a 64 KiB tmpfs took 256 KiB")
}

// Row f: N profiles × M files × K processes for one account, through
// --no-agent, agents and go-plugin children, all at once and then again:
// one failed login.
func TestMatrixProfilesFilesProcesses(t *testing.T) {
	const n, m = 3, 2
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, "", "TK_E2E_PW="+matrixWrong)
	var configs []string
	for f := range m {
		var entries []string
		for p := range n {
			entries = append(entries, profileYAML(fmt.Sprintf("p%d", p), s.URL, s.CAFile, e2eUser, "{env: TK_E2E_PW}"))
		}
		cfg := writeConfig(t, tk, fmt.Sprintf("f%d.yaml", f), entries...)
		configs = append(configs, cfg)
		t.Cleanup(func() { tk.run(t, nil, "--config", cfg, "agent", "stop") })
	}
	tkBin, _ := binaries(t)
	for round := range 2 {
		var wg sync.WaitGroup
		for _, cfg := range configs {
			for p := range n {
				profile := fmt.Sprintf("p%d", p)
				for _, args := range [][]string{{"--config", cfg, "get", "--no-agent"}, {"--config", cfg, "get"}} {
					wg.Go(func() {
						// The one rejection, or the guard's refusal of the same
						// credential: both exit 3.
						if r := tk.run(t, nil, append(args, "--profile", profile)...); r.code != 3 {
							t.Errorf("round %d: %v --profile %s: exit %d, want 3: %s", round, args, profile, r.code, r.stderr)
						}
					})
				}
				wg.Go(func() {
					c, err := launch(t, host.LaunchOptions{Path: tkBin, ConfigPath: cfg, Env: tk.env})
					if err != nil {
						t.Errorf("round %d: launch: %v", round, err)
						return
					}
					if _, err := c.Token(callCtx(t), profile, host.TokenOptions{}); err == nil {
						t.Errorf("round %d: a plugin child got a token with a wrong password", round)
					}
					_ = closeClient(t, c)
				})
			}
		}
		wg.Wait()
	}
	checkRow(t, s, "f", 1, e2eUser, e2ePassword)
}

// Row h: the hard ceiling with a changing secret. A person tries three
// different wrong passwords in a row: the first two reach the server, the
// third is refused without a call, saying when the next attempt is
// allowed — whatever the secret, however quickly it changes.
func TestMatrixCeilingChangingSecret(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, "", "")
	pwFile := filepath.Join(tk.dir, "password")
	cfg := writeConfig(t, tk, "c.yaml", profileYAML("sddc", s.URL, s.CAFile, e2eUser, "{file: "+pwFile+"}"))
	start := time.Now()
	for i := range 3 {
		if err := os.WriteFile(pwFile, []byte(fmt.Sprintf("Wrong-guess-%d\n", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		r := tk.run(t, nil, "--config", cfg, "get", "--no-agent", "--profile", "sddc")
		if r.code == 0 {
			t.Fatalf("guess %d: a wrong password got a token", i+1)
		}
		if i == 2 && (!strings.Contains(r.stderr, "the next attempt is allowed after") || strings.Contains(r.stderr, "guard reset")) {
			t.Errorf("guess 3: exit %d, stderr %q; want the ceiling's refusal saying when, not reset", r.code, r.stderr)
		}
	}
	// A reset forgets the backoff, not the ceiling's attempts: it is no
	// way to try two more secrets at once.
	if r := tk.run(t, nil, "--config", cfg, "guard", "reset", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("guard reset: exit %d: %s", r.code, r.stderr)
	}
	for i := 3; i < 5; i++ {
		if err := os.WriteFile(pwFile, []byte(fmt.Sprintf("Wrong-guess-%d\n", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := tk.run(t, nil, "--config", cfg, "get", "--no-agent", "--profile", "sddc"); !strings.Contains(r.stderr, "the next attempt is allowed after") {
			t.Errorf("guess %d after the reset: exit %d, stderr %q; want the ceiling's refusal", i+1, r.code, r.stderr)
		}
	}
	if d := time.Since(start); d >= 180*time.Second {
		t.Fatalf("the guesses took %s, not within one window", d)
	}
	checkRow(t, s, "h (ceiling, 3 secrets, reset, 2 more)", 2, e2eUser, e2ePassword)
}

// Row i: Cloud Director names an account user@org, and compares both
// without regard to case: profiles spelling them differently spend one
// budget.
func TestMatrixVCDCaseVariantsOneAccount(t *testing.T) {
	s := startSim(t, "vcd", "--user", "alice@ExampleOrg=Right-vcd-pw1")
	tk := newTK(t, "", "TK_VCD_PW="+matrixWrong)
	var entries []string
	spellings := [][2]string{{"alice", "ExampleOrg"}, {"Alice", "exampleorg"}, {"ALICE", "EXAMPLEORG"}}
	for i, sp := range spellings {
		entries = append(entries, vcdProfile(fmt.Sprintf("v%d", i), s,
			fmt.Sprintf("    org: %s\n    username: %s\n    password: {env: TK_VCD_PW}\n", sp[1], sp[0])))
	}
	cfg := writeConfig(t, tk, "vcd.yaml", entries...)
	for i := range spellings {
		if r := tk.run(t, nil, "--config", cfg, "get", "--no-agent", "--profile", fmt.Sprintf("v%d", i)); r.code != 3 {
			t.Errorf("get v%d: exit %d, want 3: %s", i, r.code, r.stderr)
		}
	}
	st := s.Stats(t)
	t.Logf("MATRIX i (vcd user@org case variants): loginFailures=%d logins=%d", st.LoginFailures, st.Logins)
	if st.LoginFailures != 1 {
		t.Errorf("%d failed logins for three spellings of one account, want exactly 1", st.LoginFailures)
	}
}

// Row g: an upstream that echoes part of the password — a prefix, an
// upper-cased copy — in its 401 body. Neither reaches stderr, the status
// LAST-ERROR or guard.json.
func TestMatrixPartialEchoes(t *testing.T) {
	const pw = "Echo-Canary-pw7"
	echoes := map[string]string{"prefix": pw[:6], "upper-cased": strings.ToUpper(pw), "middle": pw[3:9]}
	for name, echo := range echoes {
		t.Run(name, func(t *testing.T) {
			up := httptestEcho(t, echo)
			tk := newTK(t, fmt.Sprintf("profiles:\n  sddc:\n    provider: vcf\n    url: %s\n    username: %s\n    password: {env: TK_E2E_PW}\n",
				up, e2eUser), "TK_E2E_PW="+pw)
			// The rejected login happens in the agent, so that the status's
			// LAST-ERROR is the rejection itself; then --no-agent is refused.
			r1 := tk.run(t, nil, "get", "--profile", "sddc")
			r2 := tk.run(t, nil, "get", "--no-agent", "--profile", "sddc")
			st := tk.run(t, nil, "status")
			guard, _ := os.ReadFile(filepath.Join(tk.runtime, "tokenkeeper", "guard.json"))
			if r1.code != 3 || !strings.Contains(r1.stderr, "HTTP 401") || !strings.Contains(r1.stderr, "withheld") {
				t.Fatalf("get: exit %d, stderr %q; want 3 with the status and the message withheld", r1.code, r1.stderr)
			}
			if len(guard) == 0 || !strings.Contains(st.stdout, "sddc") ||
				!strings.Contains(st.stdout, "it quoted part of the credential") { // the table cuts the message's head
				t.Fatalf("no guard.json (%d bytes), or no status row whose LAST-ERROR is the withheld message; the test proves nothing:\n%s",
					len(guard), st.stdout+"\nstderr: "+st.stderr+fmt.Sprintf("\nexit %d", st.code))
			}
			for what, out := range map[string]string{"stderr": r1.stderr + r2.stderr + tk.seen.String(),
				"status": st.stdout, "guard.json": string(guard)} {
				low := strings.ToLower(out)
				for i := 0; i+4 <= len(pw); i++ {
					if strings.Contains(low, strings.ToLower(pw[i:i+4])) {
						t.Errorf("%s holds part %d of the password (%s echo)", what, i, name)
						break
					}
				}
			}
		})
	}
}

// httptestEcho is an SDDC Manager stand-in that rejects every login with
// a 401 whose message quotes echo, and returns its URL.
func httptestEcho(t *testing.T, echo string) string {
	t.Helper()
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"errorCode":"BAD_CREDENTIALS","message":"Invalid password %s for user","remediationMessage":"check %s"}`, echo, echo)
	}))
	return srv
}

// Recovery (issue 11 item 4): the account was locked from outside, so
// tokenkeeper's login with the right password was rejected and the guard
// holds it back. After an administrator unlocked the account
// (/_sim/reset), `tokenkeeper guard reset --profile P` — the command the
// refusal names — lets the next get log in, and the guard still holds for
// every other account.
func TestGuardResetRecovers(t *testing.T) {
	const other = "carol@local"
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN", "--user", other+"=Carol-pw1:ADMIN")
	tk := newTK(t, "", "TK_E2E_PW="+e2ePassword, "TK_C_PW=wrong-carol")
	cfg := writeConfig(t, tk, "r.yaml", profileYAML("sddc", s.URL, s.CAFile, e2eUser, "{env: TK_E2E_PW}"),
		profileYAML("carol", s.URL, s.CAFile, other, "{env: TK_C_PW}"))
	for range 5 { // someone else locks the account
		s.Login(t, e2eUser, "outside-wrong")
	}
	for _, p := range []string{"sddc", "carol"} {
		if r := tk.run(t, nil, "--config", cfg, "get", "--no-agent", "--profile", p); r.code != 3 {
			t.Fatalf("get %s: exit %d: %s", p, r.code, r.stderr)
		}
	}
	s.Reset(t) // the administrator unlocks it (and the counters start over)
	r := tk.run(t, nil, "--config", cfg, "get", "--no-agent", "--profile", "sddc")
	if r.code != 3 || !strings.Contains(r.stderr, "tokenkeeper guard reset --profile sddc") {
		t.Fatalf("after the unlock: exit %d, want 3 naming the recovery command: %s", r.code, r.stderr)
	}
	st := tk.run(t, nil, "guard", "status")
	if st.code != 0 || !strings.Contains(st.stdout, e2eUser) || !strings.Contains(st.stdout, other) {
		t.Fatalf("guard status: exit %d:\n%s", st.code, st.stdout)
	}
	rs := tk.run(t, nil, "--config", cfg, "guard", "reset", "--profile", "sddc")
	if rs.code != 0 || !strings.Contains(rs.stderr, "locks an account after 5") || !strings.Contains(rs.stderr, "cleared the lockout record") {
		t.Fatalf("guard reset: exit %d: %s", rs.code, rs.stderr)
	}
	tk.get(t, "sddc", "--config", cfg, "--no-agent")
	// Carol's record stays: her unchanged wrong secret is still refused,
	// without a call upstream.
	if r := tk.run(t, nil, "--config", cfg, "get", "--no-agent", "--profile", "carol"); r.code != 3 ||
		!strings.Contains(r.stderr, "lockout guard") {
		t.Fatalf("carol after sddc's reset: exit %d: %s", r.code, r.stderr)
	}
	if st := s.Stats(t); st.LoginFailures != 0 || st.Logins != 1 {
		t.Fatalf("after the reset: %d failed logins, %d logins; want 0 and 1", st.LoginFailures, st.Logins)
	}
}

// newHTTPServer serves h on 127.0.0.1:0 (plain HTTP) until the test ends.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
