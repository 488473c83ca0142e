package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

func TestConfigCheckReportsLines(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	if err := os.WriteFile(c.config, []byte("profiles:\n  sddc:\n    provider: vcf\n    url: https://x\n    username: u\n    password: hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := c.run(context.Background(), "", "config", "check")
	if o.code != 2 || !strings.Contains(o.stderr, "config.yaml:6") || strings.Contains(o.stderr, "hunter2") {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
}

func TestOnlineCheckLogsInAndRevokes(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	o := c.run(context.Background(), "", "config", "check", "--online")
	if o.code != 0 || !strings.Contains(o.stdout, "sddc: ok") {
		t.Fatalf("exit %d: %s %s", o.code, o.stdout, o.stderr)
	}
	if st := u.b.Stats(); st.Logins != 1 || st.Revocations != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestOnlineCheckMovesOnFromUnreachable: one unreachable profile among
// three costs its --profile-timeout (10 s by default), not the whole
// check; every profile is reported, and the retries are shown meanwhile.
func TestOnlineCheckMovesOnFromUnreachable(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	good := "    provider: vcf\n    url: " + u.srv.URL + "\n    ca_file: " + u.caFile +
		"\n    username: " + testUser + "\n    password: {env: TK_TEST_PW}\n"
	yaml := "profiles:\n  a:\n" + good + "  b:\n    provider: vcf\n    url: https://127.0.0.1:1\n    username: " +
		testUser + "\n    password: {env: TK_TEST_PW}\n  c:\n" + good
	if err := os.WriteFile(c.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	o := c.run(context.Background(), "", "config", "check", "--online")
	took := time.Since(start)
	if took > 15*time.Second || o.code != exec.ExitUnavailable {
		t.Errorf("took %v, exit %d; want under 15s, exit 5", took, o.code)
	}
	for _, w := range []string{"a: ok", "b: FAILED (Unavailable)", "c: ok"} {
		if !strings.Contains(o.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, o.stdout)
		}
	}
	if !strings.Contains(o.stderr, "waiting for https://127.0.0.1:1: connection refused (attempt ") {
		t.Errorf("no progress on stderr:\n%s", o.stderr)
	}
}

// TestConfigCheckProblemsOnePerLine: all problems at once, one a line,
// each starting with the file position.
func TestConfigCheckProblemsOnePerLine(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	c.writeConfig("profiles:\n  a:\n    provider: vcf\n    url: https://x\n    username: u\n    password: hunter2\n" +
		"  b:\n    provider: vcf\n    url: ftp://x\n    bogus: 1\n")
	o := c.run(context.Background(), "", "config", "check")
	lines := strings.Split(strings.TrimSuffix(o.stderr, "\n"), "\n")
	if o.code != 2 || len(lines) < 4 || !strings.HasPrefix(lines[0], "tokenkeeper: ") || strings.Contains(o.stderr, "hunter2") {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, c.config+":") {
			t.Errorf("problem line %q does not start with the file position", l)
		}
	}
}

// TestConfigCheckOfflineSecrets: references that cannot work are found
// without running a command or printing a value.
func TestConfigCheckOfflineSecrets(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	dir := t.TempDir()
	open, missing, marker := filepath.Join(dir, "open"), filepath.Join(dir, "missing"), filepath.Join(dir, "ran")
	if err := os.WriteFile(open, []byte("file-secret-9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	profile := func(name, pw string) string {
		return "  " + name + ":\n    provider: vcf\n    url: https://x\n    username: u\n    password: " + pw + "\n"
	}
	c.writeConfig("profiles:\n" + profile("open", "{file: "+open+"}") + profile("missing", "{file: "+missing+"}") +
		profile("noprog", `{command: ["tokenkeeper-no-such-program"]}`) +
		profile("runs", `{command: ["sh", "-c", "touch `+marker+`"]}`) +
		profile("unset", "{env: TK_UNSET_VAR}") + profile("good", "{env: TK_TEST_PW}") +
		"    insecure_skip_verify: true\n")
	o := c.run(context.Background(), "", "config", "check")
	if o.code != 2 || !strings.Contains(o.stdout, "6 profiles, syntax ok") {
		t.Fatalf("exit %d, stdout %q", o.code, o.stdout)
	}
	for _, want := range []string{
		`tokenkeeper: 3 problems with secret references:`,
		`profile "open": field "password": secret file ` + open + `: insecure permissions`,
		`profile "missing": field "password": secret file ` + missing + `: not found`,
		`profile "noprog": field "password": secret command tokenkeeper-no-such-program: the program is not found on PATH`,
		`: profile "unset": field "password": secret env TK_UNSET_VAR: not found`,
		`warning: ` + c.config, // insecure_skip_verify of "good"
	} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, o.stderr)
		}
	}
	for _, l := range strings.Split(o.stderr, "\n") {
		if strings.Contains(l, `profile "unset"`) && !strings.HasPrefix(l, "warning: "+c.config+":") {
			t.Errorf("an unset variable is not a warning: %q", l)
		}
	}
	if strings.Contains(o.stdout+o.stderr, "file-secret-9") || strings.Contains(o.stdout+o.stderr, testPassword) {
		t.Fatal("a secret value was printed")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("config check ran a secret command")
	}
}

// TestOnlineCheckExitCodeIsMostSevere: the order documented in the help.
func TestOnlineCheckExitCodeIsMostSevere(t *testing.T) {
	e := func(c exec.Code) *exec.Error { return &exec.Error{Code: c} }
	tests := []struct {
		codes []exec.Code
		exit  int
	}{
		{[]exec.Code{exec.CodeUnavailable, exec.CodeBadConfig}, 2},
		{[]exec.Code{exec.CodeBadConfig, exec.CodePermissionDenied, exec.CodeUnavailable}, 4},
		{[]exec.Code{exec.CodePermissionDenied, exec.CodeFailedPrecondition}, 3},
		{[]exec.Code{exec.CodeUnauthenticated, exec.CodeInternal, exec.CodeUnavailable}, 1},
		{[]exec.Code{exec.CodeUnavailable, exec.CodeUnavailable}, 5},
	}
	for _, tt := range tests {
		for _, order := range [][]exec.Code{tt.codes, reversed(tt.codes)} {
			var worst *exec.Error
			for _, c := range order {
				worst = mostSevereOf(worst, e(c))
			}
			if got := worst.Code.ExitCode(); got != tt.exit {
				t.Errorf("%v: exit %d, want %d", order, got, tt.exit)
			}
		}
	}
}

func reversed(s []exec.Code) []exec.Code {
	out := make([]exec.Code, len(s))
	for i, c := range s {
		out[len(s)-1-i] = c
	}
	return out
}

// TestOnlineCheckWithOfflineProblem: the offline problem is reported, the
// good profile still logs in, and the exit code is the most severe.
func TestOnlineCheckWithOfflineProblem(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	cfg, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	broken := strings.Replace(strings.TrimPrefix(string(cfg), "profiles:\n"), "sddc:", "broken:", 1)
	c.writeConfig(string(cfg) + strings.Replace(broken, "{env: TK_TEST_PW}", "{file: "+missing+"}", 1))
	o := c.run(context.Background(), "", "config", "check", "--online")
	if o.code != 2 || !strings.Contains(o.stdout, "sddc: ok") || !strings.Contains(o.stdout, "broken: FAILED (BadConfig)") {
		t.Fatalf("exit %d, stdout %q", o.code, o.stdout)
	}
	if !strings.Contains(o.stderr, `tokenkeeper: `+c.config+`:`) || !strings.Contains(o.stderr, `profile "broken": field "password": secret file `+missing) {
		t.Fatalf("stderr %q", o.stderr)
	}
}

// TestConfigCheckRefusesWritableProgram: config check applies the same
// trust rule to a command's program as a real run does, without running it.
func TestConfigCheckRefusesWritableProgram(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	dir := t.TempDir()
	prog, marker := filepath.Join(dir, "pw.sh"), filepath.Join(dir, "ran")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ntouch "+marker+"\necho x\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(prog, 0o775); err != nil { // group-writable
		t.Fatal(err)
	}
	c.writeConfig("profiles:\n  w:\n    provider: vcf\n    url: https://x\n    username: u\n    password: {command: [\"" + prog + "\"]}\n")
	o := c.run(context.Background(), "", "config", "check")
	if o.code != 2 || !strings.Contains(o.stderr, `profile "w": field "password": secret command `+prog) ||
		!strings.Contains(o.stderr, "chmod go-w") {
		t.Fatalf("exit %d, stderr:\n%s", o.code, o.stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("config check ran a secret command")
	}
}
