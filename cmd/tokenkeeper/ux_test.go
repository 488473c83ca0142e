package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// writeConfig replaces the test's profiles file.
func (c *cliTest) writeConfig(yaml string) {
	c.t.Helper()
	if err := os.WriteFile(c.config, []byte(yaml), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// oneStderrLine fails unless stderr is exactly one "tokenkeeper: " line.
func oneStderrLine(t *testing.T, o outcome) {
	t.Helper()
	if strings.Count(o.stderr, "\n") != 1 || !strings.HasPrefix(o.stderr, "tokenkeeper: ") {
		t.Fatalf("stderr is not one line: %q", o.stderr)
	}
}

func errorDocument(t *testing.T, stdout string) exec.ErrorDocument {
	t.Helper()
	var doc exec.ErrorDocument
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || dec.More() || doc.Kind != exec.KindError {
		t.Fatalf("stdout is not one Error document: %v: %q", err, stdout)
	}
	return doc
}

// TestRawFormatsKeepStdoutEmptyOnFailure: `curl -H "$(tokenkeeper get
// --format header)"` must not send an error message upstream, and
// TOKEN=$(… --format token) must not capture one.
func TestRawFormatsKeepStdoutEmptyOnFailure(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	ctx := context.Background()
	for _, format := range []string{"token", "header", "env"} {
		for _, args := range [][]string{
			{"get", "-p", "nosuch", "--no-agent", "--format", format}, // NotFound, from the keeper
			{"get", "-p", "sddc", "--bogus", "--format", format},      // usage, from flag parsing
			{"get", "--format", format},                               // no request on stdin
		} {
			o := c.run(ctx, "", args...)
			if o.code != 2 || o.stdout != "" {
				t.Errorf("%v: exit %d, stdout %q: want 2 and nothing on stdout", args, o.code, o.stdout)
			}
			oneStderrLine(t, o)
		}
	}
	// json, explicit or by default, and a JSON request: the Error document.
	for _, args := range [][]string{{"get", "-p", "nosuch", "--no-agent", "--format", "json"}, {"get", "-p", "nosuch", "--no-agent"}} {
		if doc := errorDocument(t, c.run(ctx, "", args...).stdout); doc.Error.Code != exec.CodeNotFound {
			t.Errorf("%v: code %s", args, doc.Error.Code)
		}
	}
	o := c.run(ctx, `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"nosuch"}`, "get", "--no-agent")
	if doc := errorDocument(t, o.stdout); doc.Error.Code != exec.CodeNotFound {
		t.Errorf("stdin request: code %s", doc.Error.Code)
	}
}

// TestStdinRequestIsStrict: case variants and repeated keys are refused,
// and so are flags that the request on stdin would silently override.
func TestStdinRequestIsStrict(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"wrong case", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","PROFILE":"sddc"}`, []string{"get"}, `unknown field "PROFILE"`},
		{"duplicate", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"nosuch","profile":"sddc"}`, []string{"get"}, `field "profile" appears more than once`},
		{"numeric duration", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":600}`, []string{"get"}, `field "minValidity": must be a duration string like \"10m\"`},
		{"flag with request", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`, []string{"get", "--min-validity", "2h"}, "use either --profile and flags, or a JSON request on stdin"},
		{"force flag with request", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`, []string{"get", "--force-refresh"}, "use either --profile and flags"},
		{"invalidate flag with request", `{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"sddc","fingerprint":"f"}`, []string{"invalidate", "--reason", "x"}, "use either --profile and flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := c.run(context.Background(), tt.stdin, tt.args...)
			if o.code != 2 {
				t.Fatalf("exit %d, want 2: %s", o.code, o.stderr)
			}
			oneStderrLine(t, o)
			doc := errorDocument(t, o.stdout)
			want := strings.ReplaceAll(tt.want, `\"`, `"`)
			if doc.Error.Code != exec.CodeInvalidArgument || !strings.Contains(doc.Error.Message, want) {
				t.Fatalf("error %s %q, want InvalidArgument mentioning %q", doc.Error.Code, doc.Error.Message, want)
			}
		})
	}
}

// TestLockoutGuardRetryAt: when the guard refuses, the Error document
// says when it will try again — in-process and through the agent.
func TestLockoutGuardRetryAt(t *testing.T) {
	u := newUpstream(t)
	for _, agent := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-agent", true: "agent"}[agent], func(t *testing.T) {
			c := newCLITest(t, u, "wrong-pw-7")
			args := []string{"get", "-p", "sddc", "--no-agent"}
			if agent {
				c.startAgent()
				args = args[:3]
			}
			ctx := context.Background()
			if o := c.run(ctx, "", args...); o.code != 3 || errorDocument(t, o.stdout).Error.RetryAt != "" {
				t.Fatalf("first get: exit %d %q, want 3 Unauthenticated without retryAt", o.code, o.stdout)
			}
			before := time.Now()
			o := c.run(ctx, "", args...)
			doc := errorDocument(t, o.stdout)
			if o.code != 3 || doc.Error.Code != exec.CodeFailedPrecondition {
				t.Fatalf("second get: exit %d, %s: want 3, FailedPrecondition", o.code, doc.Error.Code)
			}
			at, err := time.Parse(time.RFC3339, doc.Error.RetryAt)
			if err != nil || !at.After(before) || at.After(before.Add(time.Hour)) {
				t.Fatalf("retryAt %q (%v): want an RFC 3339 time within the backoff", doc.Error.RetryAt, err)
			}
			if strings.Contains(o.stdout+o.stderr, "wrong-pw-7") {
				t.Fatal("the password leaked")
			}
		})
	}
}

// TestExecCommandThatCannotRun: 127 not found, 126 not executable, as
// env(1); never 2, which means a usage error.
func TestExecCommandThatCannotRun(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		argv []string
		code int
	}{
		{"missing path", []string{filepath.Join(dir, "nonexistent")}, 127},
		{"not on PATH", []string{"tokenkeeper-no-such-program"}, 127},
		{"not executable", []string{plain}, 126},
		{"directory", []string{dir}, 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := c.run(context.Background(), "", append([]string{"exec", "-p", "sddc", "--no-agent", "--"}, tt.argv...)...)
			if o.code != tt.code || o.stdout != "" {
				t.Fatalf("exit %d, stdout %q; want %d and nothing", o.code, o.stdout, tt.code)
			}
			oneStderrLine(t, o)
		})
	}
}

// TestHelpAndFlagPolish covers the small promises of the help texts.
func TestHelpAndFlagPolish(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	ctx := context.Background()
	o := c.run(ctx, "", "--log-level", "verbose", "status")
	if o.code != 2 || !strings.Contains(o.stderr, "trace, debug, info, warn, error, off") {
		t.Errorf("--log-level verbose: exit %d %q", o.code, o.stderr)
	}
	v, vflag := c.run(ctx, "", "version"), c.run(ctx, "", "--version")
	if v.code != 0 || v.stdout != vflag.stdout || !strings.Contains(v.stdout, "plugin protocol: 1\n") || !strings.Contains(v.stdout, "commit: ") {
		t.Errorf("version %q and --version %q", v.stdout, vflag.stdout)
	}
	o = c.run(ctx, "", "completion", "tcsh")
	if o.code != 2 || o.stdout != "" || !strings.Contains(o.stderr, "unsupported shell tcsh (bash, zsh, fish, powershell)") {
		t.Errorf("completion tcsh: exit %d %q %q", o.code, o.stdout, o.stderr)
	}
	o = c.run(ctx, "", "get", "-p", "sddc", "extra-arg")
	if o.code != 2 || !strings.Contains(o.stderr, `unexpected argument "extra-arg"`) {
		t.Errorf("stray argument: exit %d %q", o.code, o.stderr)
	}
	o = c.run(ctx, "", "gte")
	if o.code != 2 || !strings.Contains(o.stderr, "unknown command \"gte\" for \"tokenkeeper\"\n\nDid you mean this?\n\tget\n") {
		t.Errorf("typo: exit %d %q", o.code, o.stderr)
	}
	for _, args := range [][]string{{"--help"}, {"exec", "--help"}} {
		help := c.run(ctx, "", args...).stdout
		if !strings.Contains(help, `"$TOKENKEEPER_HEADER_NAME: $TOKENKEEPER_HEADER_VALUE"`) || strings.Contains(help, `"Authorization: $TOKENKEEPER`) {
			t.Errorf("%v: the example hard-codes the header name", args)
		}
		if !strings.Contains(help, "~/.config/tokenkeeper/config.yaml") {
			t.Errorf("%v: --config does not list the ~/.config fallback", args)
		}
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

// TestStatusTableRetryAndError: the RETRY column, and a long error kept
// from its start (what failed) to its end (the upstream code and the
// classification), without the profile prefix the PROFILE column says.
func TestStatusTableRetryAndError(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	retry := now.Add(4*time.Minute + 30*time.Second)
	short := `profile "sddc": log in: POST /v1/tokens: HTTP 400 BAD_CREDENTIALS: Invalid username or password (credentials rejected)`
	long := `profile "sddc": login not attempted: credentials were rejected; will retry after 2026-11-22T12:04:30Z or when the secret changes: ` +
		`log in: POST /v1/tokens: HTTP 400 BAD_CREDENTIALS: Invalid username or password, or the account is locked, see the administrator (credentials rejected)`
	doc := statusDocument{Agent: agentStatus{Running: true, PID: 7, Socket: "/run/x"}, Profiles: []profileStatus{
		{Profile: "sddc", Provider: "vcf", State: "rejected", LastError: short, RetryAt: &retry},
		{Profile: "sddc", Provider: "vcf", State: "rejected", LastError: long, RetryAt: &retry},
		{Profile: "ok", Provider: "vcf", State: "valid"},
	}}
	var b bytes.Buffer
	if err := writeStatusTable(&b, doc, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.Contains(lines[2], "RETRY") || !strings.HasSuffix(strings.TrimSpace(lines[2]), "LAST-ERROR") {
		t.Fatalf("header %q", lines[2])
	}
	if row := lines[3]; !strings.Contains(row, "in 4m30s") || !strings.HasSuffix(row, "  log in: POST /v1/tokens: HTTP 400 BAD_CREDENTIALS: Invalid username or password (credentials rejected)") {
		t.Errorf("short error row %q", row)
	}
	row := lines[4]
	if !strings.Contains(row, "  login not attempted:") || !strings.Contains(row, "BAD_CREDENTIALS") ||
		!strings.HasSuffix(row, "(credentials rejected)") || !strings.Contains(row, " … ") || strings.Contains(row, `profile "sddc"`) {
		t.Errorf("long error row %q", row)
	}
	if n := len([]rune(row[strings.Index(row, "login not"):])); n > lastErrorWidth {
		t.Errorf("LAST-ERROR is %d runes, want at most %d", n, lastErrorWidth)
	}
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
