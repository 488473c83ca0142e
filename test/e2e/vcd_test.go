package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Canary secrets of the Cloud Director end-to-end tests.
const (
	vcdPassword      = "canary-vcd-Pa55w0rd-51e0"
	vcdAdminPassword = "canary-vcd-Adm1n-77c3"
	vcdAPIToken      = "canary-vcd-apitoken-0f4a9e"
	vcdSAToken       = "canary-vcd-satoken-c81d2b"
)

// vcdRotated matches a service-account token minted by the simulator.
var vcdRotated = regexp.MustCompile(`^sa-[0-9a-f]{48}$`)

// TestVCDEndToEnd drives the real tokenkeeper binary (agent and get)
// against `tokenkeeper-sim vcd --tls`, TLS verified with the simulator's
// CA: every Cloud Director login flow, rotation, idle expiry, logout,
// and the canary check over everything the processes wrote.
func TestVCDEndToEnd(t *testing.T) {
	binaries(t) // skips under -short
	t.Run("logins", vcdLogins)
	t.Run("idle-timeout", vcdIdle)
	t.Run("rotation-kill", vcdRotationKill)
	t.Run("config-check-unwritable-service-account", vcdConfigCheck)
}

// vcdConfigCheck: a service account whose token could not be written back
// is refused before anything runs, with the reason.
func vcdConfigCheck(t *testing.T) {
	tk := newTK(t, "profiles:\n  robot:\n    provider: vcd\n    url: https://vcd.example.com\n"+
		"    org: ExampleOrg\n    service_account: {env: VCD_E2E_SA}\n", "VCD_E2E_SA="+vcdSAToken)
	if r := tk.run(t, nil, "config", "check"); r.code != 2 {
		t.Fatalf("config check: exit %d, want 2", r.code)
	}
	if msg := tk.seen.String(); !strings.Contains(msg, "service_account") || !strings.Contains(msg, "written back") {
		t.Fatalf("config check does not give the reason: %q", msg)
	}
}

// vcdProfile renders one profile of the config file.
func vcdProfile(name string, s *Sim, body string) string {
	return fmt.Sprintf("  %s:\n    provider: vcd\n    url: %s\n    ca_file: %s\n%s", name, s.URL, s.CAFile, body)
}

func vcdLogins(t *testing.T) {
	dir := t.TempDir()
	modern := startSim(t, "vcd", "--product", "10.4",
		"--user", "alice@ExampleOrg="+vcdPassword, "--user", "admin@System="+vcdAdminPassword+":System Administrator",
		"--api-token", vcdAPIToken+":alice@ExampleOrg", "--service-account", vcdSAToken+":robot@ExampleOrg")
	old := startSim(t, "vcd", "--api-versions", "30.0,31.0,32.0", "--user", "alice@ExampleOrg="+vcdPassword)
	apiFile := vcdWriteSecret(t, dir, "api-token", vcdAPIToken)
	saFile := vcdWriteSecret(t, dir, "sa-token", vcdSAToken)
	config := "profiles:\n" +
		vcdProfile("tenant", modern, "    org: ExampleOrg\n    username: alice\n    password: {env: VCD_E2E_PASSWORD}\n") +
		vcdProfile("system", modern, "    org: system\n    username: admin\n    password: {env: VCD_E2E_ADMIN_PASSWORD}\n") +
		vcdProfile("legacy", old, "    org: ExampleOrg\n    username: alice\n    password: {env: VCD_E2E_PASSWORD}\n") +
		vcdProfile("apitoken", modern, "    org: ExampleOrg\n    api_token: {file: "+apiFile+"}\n") +
		vcdProfile("robot", modern, "    org: ExampleOrg\n    service_account: {file: "+saFile+"}\n") +
		vcdProfile("wrong", modern, "    org: ExampleOrg\n    username: alice\n    password: {env: VCD_E2E_WRONG}\n")
	tk := newTK(t, config, "VCD_E2E_PASSWORD="+vcdPassword,
		"VCD_E2E_ADMIN_PASSWORD="+vcdAdminPassword, "VCD_E2E_WRONG=not-"+vcdPassword)
	agent := tk.startAgent(t)
	var tokens []string

	checks := []struct {
		profile, resource, version, header string
		s                                  *Sim
	}{
		{"tenant", "/cloudapi/1.0.0/orgs", "37.0", "Authorization", modern},
		{"system", "/api/org", "37.0", "Authorization", modern},
		{"legacy", "/api/org", "32.0", "x-vcloud-authorization", old},
		{"apitoken", "/cloudapi/1.0.0/orgs", "37.0", "Authorization", modern},
	}
	for _, c := range checks {
		t.Run(c.profile, func(t *testing.T) {
			tok := tk.get(t, c.profile)
			tokens = append(tokens, tok.Token)
			wantValue := "Bearer " + tok.Token
			if c.header == "x-vcloud-authorization" {
				wantValue = tok.Token
			}
			if tok.Provider != "vcd" || !strings.EqualFold(tok.Header.Name, c.header) || tok.Header.Value != wantValue {
				t.Fatalf("header %q (value matches: %v), want %q", tok.Header.Name, tok.Header.Value == wantValue, c.header)
			}
			if st := c.s.Call(t, c.resource, c.version, tok.Header); st != http.StatusOK {
				t.Fatalf("GET %s with the returned header: %d", c.resource, st)
			}
			if again := tk.get(t, c.profile); again.Token != tok.Token {
				t.Fatal("a second get must serve the cached session")
			}
		})
	}
	t.Run("service-account", func(t *testing.T) { tokens = append(tokens, vcdRotations(t, tk, modern, saFile)...) })
	t.Run("wrong-password", func(t *testing.T) {
		if r := tk.run(t, nil, "get", "--profile", "wrong"); r.code != 3 {
			t.Fatalf("exit %d, want 3 (credentials rejected)", r.code)
		}
	})
	t.Run("logout", func(t *testing.T) {
		for _, p := range []string{"tenant", "system", "legacy", "apitoken", "robot"} {
			if r := tk.run(t, nil, "logout", "--profile", p); r.code != 0 {
				t.Fatalf("logout %s: exit %d", p, r.code)
			}
		}
		for name, s := range map[string]*Sim{"10.4": modern, "32.0": old} {
			if n := s.Stats(t).ActiveSessions; n != 0 {
				t.Fatalf("%s server: %d active sessions after logout", name, n)
			}
		}
	})
	t.Run("canary", func(t *testing.T) {
		if r := tk.run(t, nil, "status"); r.stdout != "" {
			_, _ = tk.seen.Write([]byte(r.stdout))
		}
		agent.stop()
		secrets := append([]string{vcdPassword, vcdAdminPassword, vcdAPIToken, vcdSAToken}, tokens...)
		vcdAssertClean(t, "agent log, CLI stderr and error documents", tk.seen.String(), secrets)
		vcdAssertClean(t, "simulator log", modern.Stderr()+old.Stderr(), secrets)
		if !strings.Contains(tk.seen.String(), "fingerprint") && !strings.Contains(tk.seen.String(), "sha256:") {
			t.Fatal("trace logs carry no fingerprint: the canary scan saw no logs at all")
		}
	})
}

// vcdWriteSecret writes a 0600 secret file.
func vcdWriteSecret(t *testing.T, dir, name, value string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// vcdRotations forces five service-account exchanges while a reader
// checks that the secret file is never empty or partial.
func vcdRotations(t *testing.T, tk *tkEnv, s *Sim, saFile string) []string {
	stop := make(chan struct{})
	var bad, reads int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5_000_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			raw, err := os.ReadFile(saFile)
			reads++
			v := strings.TrimSpace(string(raw))
			if err != nil || (v != vcdSAToken && !vcdRotated.MatchString(v)) {
				bad++
			}
		}
	}()
	var tokens []string
	prev := vcdSAToken
	for i := range 5 {
		tok := tk.get(t, "robot", "--force-refresh")
		tokens = append(tokens, tok.Token)
		raw, _ := os.ReadFile(saFile)
		now := strings.TrimSpace(string(raw))
		if !vcdRotated.MatchString(now) || now == prev {
			t.Fatalf("rotation %d: the secret file was not rewritten with a new token", i)
		}
		fi, _ := os.Stat(saFile)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("rotation %d: mode %v", i, fi.Mode().Perm())
		}
		if st := s.Call(t, "/cloudapi/1.0.0/orgs", "37.0", tok.Header); st != http.StatusOK {
			t.Fatalf("rotation %d: access token refused: %d", i, st)
		}
		tokens = append(tokens, now)
		prev = now
	}
	close(stop)
	wg.Wait()
	if bad != 0 || reads == 0 {
		t.Fatalf("%d of %d concurrent reads saw an empty, partial or unreadable secret file", bad, reads)
	}
	t.Logf("5 rotations; %d concurrent reads of the secret file, all complete", reads)
	return tokens
}

// vcdAssertClean fails when any secret occurs in text, naming only the
// secret's position in the list, never the secret or the text.
func vcdAssertClean(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for i, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s: contains secret #%d", what, i)
		}
	}
	if strings.Contains(text, "canary-") {
		t.Errorf("%s: contains a canary value", what)
	}
}

// vcdIdle: a session that idled out upstream is replaced before it is
// handed out; the caller never sees the dead token.
func vcdIdle(t *testing.T) {
	s := startSim(t, "vcd", "--idle-timeout", "2s", "--user", "alice@ExampleOrg="+vcdPassword)
	tk := newTK(t, "profiles:\n"+vcdProfile("tenant", s, "    org: ExampleOrg\n    username: alice\n    password: {env: VCD_E2E_PASSWORD}\n"),
		"VCD_E2E_PASSWORD="+vcdPassword)
	tk.startAgent(t)
	first := tk.get(t, "tenant")
	time.Sleep(3 * time.Second) // real processes: the simulator's idle timeout runs on the wall clock
	if st := s.Call(t, "/cloudapi/1.0.0/orgs", "37.0", first.Header); st != http.StatusUnauthorized {
		t.Fatalf("the first session should have idled out upstream: %d", st)
	}
	second := tk.get(t, "tenant")
	if second.Token == first.Token {
		t.Fatal("the idled-out token was handed out again")
	}
	if st := s.Call(t, "/cloudapi/1.0.0/orgs", "37.0", second.Header); st != http.StatusOK {
		t.Fatalf("the replacement token was refused: %d", st)
	}
	if st := s.Stats(t); st.Logins != 2 {
		t.Fatalf("logins %d, want 2", st.Logins)
	}
	if r := tk.run(t, nil, "logout", "--profile", "tenant"); r.code != 0 || s.Stats(t).ActiveSessions != 0 {
		t.Fatalf("logout: exit %d", r.code)
	}
}

// vcdRotationKill kills `tokenkeeper get --no-agent` (SIGKILL, by PID) at
// staggered moments of a service-account exchange and checks the secret
// file after each kill: it always holds one complete token, the old or
// the new, never an empty or partial one.
func vcdRotationKill(t *testing.T) {
	dir := t.TempDir()
	s := startSim(t, "vcd", "--service-account", vcdSAToken+":robot@ExampleOrg")
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	saFile := vcdWriteSecret(t, secrets, "sa-token", vcdSAToken)
	tk := newTK(t, "profiles:\n"+vcdProfile("robot", s, "    org: ExampleOrg\n    service_account: {file: "+saFile+"}\n"))
	var killed, recovered, lost, leftovers int
	for i := range 24 {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		cmd := tk.command(ctx, "get", "--profile", "robot", "--no-agent")
		cmd.Stderr = tk.seen
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i) * 3 * time.Millisecond)
		if cmd.Process.Kill() == nil {
			killed++
		}
		_ = cmd.Wait()
		raw, err := os.ReadFile(saFile)
		v := strings.TrimSpace(string(raw))
		if err != nil || (v != vcdSAToken && !vcdRotated.MatchString(v)) {
			t.Fatalf("after kill %d: the secret file is missing, empty or partial", i)
		}
		// Is what the file holds still accepted? A kill after the new
		// token was written to the temporary file and before the rename
		// leaves it there; the next run makes it the recovery file and
		// refuses to spend the dead token. Restore it as the error says.
		if r := tk.run(t, nil, "get", "--profile", "robot", "--no-agent"); r.code != 0 {
			rec := saFile + ".recovery"
			if _, err := os.Stat(rec); err == nil && strings.Contains(r.stderr, rec) {
				recovered++
				restoreRecovery(t, rec, saFile)
				r = tk.run(t, nil, "get", "--profile", "robot", "--no-agent")
			}
			if r.code != 0 {
				// A kill after the server answered and before the token
				// was written loses the rotation; the file is still whole.
				lost++
				s.Reset(t)
				vcdWriteSecret(t, secrets, "sa-token", vcdSAToken)
			}
		}
		if entries, _ := os.ReadDir(secrets); len(entries) > 2 { // sa-token and its .sa-token.lock
			leftovers += len(entries) - 2
		}
	}
	t.Logf("%d kills: file always complete; %d rotations recovered from a killed store, %d lost to a kill inside the exchange window; %d temp files left behind",
		killed, recovered, lost, leftovers)
	vcdAssertClean(t, "stderr", tk.seen.String(), []string{vcdSAToken})
}

// restoreRecovery runs the restore command the recovery error prescribes.
func restoreRecovery(t *testing.T, rec, file string) {
	t.Helper()
	if out, err := exec.Command("sh", "-c", "cat "+rec+" > "+file+" && rm "+rec).CombinedOutput(); err != nil {
		t.Fatalf("restore: %v: %s", err, out)
	}
}
