package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcf"
)

const (
	testUser     = "admin@local"
	testPassword = "in-process-pw-1"
)

// upstream is an in-process SDDC Manager simulator over TLS.
type upstream struct {
	srv    *httptest.Server
	b      *vcf.Server
	caFile string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	b, err := vcf.New(vcf.Options{Users: map[string]vcf.User{testUser: {Password: testPassword, Role: vcf.RoleAdmin}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, caPEM, err := sim.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim.NewHandler(b))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &upstream{srv: srv, b: b, caFile: ca}
}

// cliTest is one isolated user of the CLI: config, runtime dir, env.
type cliTest struct {
	t      *testing.T
	config string
	env    map[string]string
	// oneCalls counts cliEnv.OneCall: the verbs that make one call.
	oneCalls atomic.Int32
}

func newCLITest(t *testing.T, u *upstream, password string) *cliTest {
	t.Helper()
	dir, err := os.MkdirTemp("", "tkc") // short: unix socket path limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &cliTest{t: t, config: filepath.Join(dir, "config.yaml"), env: map[string]string{
		"XDG_RUNTIME_DIR": dir, "TK_TEST_PW": password, "HOME": dir,
	}}
	// Providers resolve {env: …} from the process environment.
	t.Setenv("TK_TEST_PW", password)
	url, ca := "https://127.0.0.1:1", ""
	if u != nil {
		url, ca = u.srv.URL, "\n    ca_file: "+u.caFile
	}
	yaml := "profiles:\n  sddc:\n    provider: vcf\n    url: " + url + ca +
		"\n    username: " + testUser + "\n    password: {env: TK_TEST_PW}\n"
	if err := os.WriteFile(c.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env["TOKENKEEPER_CONFIG"] = c.config
	return c
}

type outcome struct {
	code           int
	stdout, stderr string
}

func (c *cliTest) run(ctx context.Context, stdin string, args ...string) outcome {
	var out, errb bytes.Buffer
	env := cliEnv{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return c.env[k] },
		Executable: "/nonexistent/tokenkeeper-must-not-be-spawned",
		OneCall:    func() { c.oneCalls.Add(1) },
	}
	for k, v := range c.env {
		env.Environ = append(env.Environ, k+"="+v)
	}
	env.Environ = append(env.Environ, "PATH="+os.Getenv("PATH"))
	code := runCLI(ctx, args, env)
	return outcome{code, out.String(), errb.String()}
}

func decodeToken(t *testing.T, s string) exec.Token {
	t.Helper()
	var tok exec.Token
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tok); err != nil || dec.More() {
		t.Fatalf("stdout is not one Token document: %v", err)
	}
	return tok
}

func TestGetNoAgentRevokesRefreshToken(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	o := c.run(context.Background(), "", "get", "--profile", "sddc", "--no-agent")
	if o.code != 0 || o.stderr != "" {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	tok := decodeToken(t, o.stdout)
	st := u.b.Stats()
	if st.Logins != 1 || st.Revocations != 1 {
		t.Fatalf("stats %+v: want 1 login and the refresh token revoked", st)
	}
	req, _ := http.NewRequest(http.MethodGet, u.srv.URL+"/v1/domains", nil)
	req.Header.Set(tok.Header.Name, tok.Header.Value)
	resp, err := u.srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the access token does not work after the revocation: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestVerbsThroughInProcessAgent(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	c.startAgent()
	ctx := context.Background()

	o := c.run(ctx, `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":"1m"}`, "get")
	if o.code != 0 {
		t.Fatalf("get from stdin: exit %d: %s", o.code, o.stderr)
	}
	tok := decodeToken(t, o.stdout)
	if n := c.oneCalls.Load(); n != 1 {
		t.Errorf("get ran OneCall %d times, want once", n)
	}

	for _, f := range []struct{ format, want string }{
		{"token", tok.Token + "\n"},
		{"header", tok.Header.Name + ": " + tok.Header.Value + "\n"},
	} {
		if o := c.run(ctx, "", "get", "-p", "sddc", "--format", f.format); o.stdout != f.want {
			t.Errorf("--format %s: unexpected output (exit %d)", f.format, o.code)
		}
	}
	if o := c.run(ctx, "", "env", "--profile", "sddc"); o.code != 0 || !strings.Contains(o.stdout, "export TOKENKEEPER_TOKEN='") {
		t.Errorf("env: exit %d", o.code)
	}
	script := `test "$TOKENKEEPER_TOKEN" = "` + tok.Token + `" && test "$TOKENKEEPER_HEADER_NAME" = Authorization && exit 7`
	if o := c.run(ctx, "", "exec", "--profile", "sddc", "--", "sh", "-c", script); o.code != 7 {
		t.Errorf("exec: exit %d, want the command's 7: %s", o.code, o.stderr)
	}

	o = c.run(ctx, "", "status")
	if n := c.oneCalls.Load(); n != 5 {
		t.Errorf("OneCall ran %d times for 3 gets, env, exec and status; want 5", n)
	}
	if o.code != 0 || !strings.Contains(o.stdout, "PROFILE") || !strings.Contains(o.stdout, "valid") || strings.Contains(o.stdout, tok.Token) {
		t.Errorf("status: exit %d:\n%s", o.code, o.stdout)
	}
	if o := c.run(ctx, "", "invalidate", "--profile", "sddc", "--fingerprint", tok.Fingerprint); o.code != 0 || o.stdout != "" {
		t.Errorf("invalidate: exit %d %q %q", o.code, o.stdout, o.stderr)
	}
	o = c.run(ctx, "", "get", "--profile", "sddc")
	if next := decodeToken(t, o.stdout); next.Fingerprint == tok.Fingerprint {
		t.Error("invalidate did not drop the token")
	}
	if o := c.run(ctx, "", "logout", "--profile", "sddc"); o.code != 0 {
		t.Errorf("logout: exit %d: %s", o.code, o.stderr)
	}
	if st := u.b.Stats(); st.Logins != 1 || st.Revocations != 1 {
		t.Errorf("stats %+v: want 1 login, 1 revocation", st)
	}
}

func TestFailuresWriteOneErrorDocument(t *testing.T) {
	u := newUpstream(t)
	tests := []struct {
		name     string
		password string
		stdin    string
		args     []string
		code     int
		ecode    exec.Code
	}{
		{"bad format", testPassword, "", []string{"get", "-p", "sddc", "--format", "yaml"}, 2, exec.CodeInvalidArgument},
		{"empty stdin", testPassword, "", []string{"get"}, 2, exec.CodeInvalidArgument},
		{"two documents", testPassword, `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}{}`, []string{"get"}, 2, exec.CodeInvalidArgument},
		{"negative validity", testPassword, "", []string{"get", "-p", "sddc", "--min-validity", "-1m", "--no-agent"}, 2, exec.CodeInvalidArgument},
		{"stray argument", testPassword, "", []string{"get", "sddc"}, 2, exec.CodeInvalidArgument},
		{"unknown profile", testPassword, "", []string{"get", "-p", "nope", "--no-agent"}, 2, exec.CodeNotFound},
		{"wrong password", "wrong-pw-3", "", []string{"get", "-p", "sddc", "--no-agent"}, 3, exec.CodeUnauthenticated},
		{"invalidate without fingerprint", testPassword, "", []string{"invalidate", "-p", "sddc"}, 2, exec.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLITest(t, u, tt.password)
			o := c.run(context.Background(), tt.stdin, tt.args...)
			if o.code != tt.code {
				t.Fatalf("exit %d, want %d: %s", o.code, tt.code, o.stderr)
			}
			var doc exec.ErrorDocument
			dec := json.NewDecoder(strings.NewReader(o.stdout))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil || dec.More() || doc.Kind != exec.KindError || doc.Error.Code != tt.ecode {
				t.Fatalf("stdout %q: %v", o.stdout, err)
			}
			if strings.Count(o.stderr, "\n") != 1 || !strings.HasPrefix(o.stderr, "tokenkeeper: ") {
				t.Fatalf("stderr is not one line: %q", o.stderr)
			}
			if strings.Contains(o.stdout+o.stderr, tt.password) {
				t.Fatal("the password leaked")
			}
		})
	}
}

func TestHumanVerbsWithoutAgent(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	ctx := context.Background()
	o := c.run(ctx, "", "status")
	if o.code != 0 || !strings.Contains(o.stdout, "agent: not running") || !strings.Contains(o.stdout, "sddc") {
		t.Errorf("status: exit %d:\n%s%s", o.code, o.stdout, o.stderr)
	}
	if o := c.run(ctx, "", "logout", "-p", "sddc"); o.code != 0 || !strings.Contains(o.stderr, "no agent") {
		t.Errorf("logout: exit %d %q", o.code, o.stderr)
	}
	if o := c.run(ctx, "", "agent", "stop"); o.code != 0 || !strings.Contains(o.stderr, "no agent") {
		t.Errorf("agent stop: exit %d %q", o.code, o.stderr)
	}
	if o := c.run(ctx, "", "config", "check"); o.code != 0 || !strings.Contains(o.stdout, "1 profile, syntax ok") {
		t.Errorf("config check: exit %d %q %q", o.code, o.stdout, o.stderr)
	}
	if o := c.run(ctx, "", "config", "check", "--online", "--timeout", "2s"); o.code != 5 || !strings.Contains(o.stdout, "sddc: FAILED (Unavailable)") {
		t.Errorf("config check --online against nothing: exit %d %q %q", o.code, o.stdout, o.stderr)
	}
	if o := c.run(ctx, "", "env", "-p", "sddc", "--timeout", "1s", "--no-agent"); o.code != 5 || o.stdout != "" {
		t.Errorf("env failure must leave stdout empty: exit %d %q", o.code, o.stdout)
	}
	if o := c.run(ctx, "", "version"); o.code != 0 || !strings.HasPrefix(o.stdout, "tokenkeeper ") {
		t.Errorf("version: %q", o.stdout)
	}
	if o := c.run(ctx, "", "completion", "bash"); o.code != 0 || !strings.Contains(o.stdout, "tokenkeeper") {
		t.Errorf("completion bash: exit %d", o.code)
	}
}

// TestEveryVerbHasHelpWithExamples: --help of every verb shows an example.
func TestEveryVerbHasHelpWithExamples(t *testing.T) {
	a := &app{env: cliEnv{Getenv: func(string) string { return "" }}}
	root := a.rootCommand()
	for _, cmd := range allCommands(root) {
		if cmd.Example == "" && cmd.Name() != "tokenkeeper" {
			t.Errorf("%q has no example", cmd.CommandPath())
		}
	}
}

func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}

func TestProgressLine(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		lastErr string
		next    time.Duration
		want    string
	}{
		{`profile "p": log in: POST /v1/tokens: connection refused: dial tcp 127.0.0.1:1: connect: connection refused (upstream unavailable)`,
			4 * time.Second, "waiting for https://x: connection refused (attempt 3, next in 4s)"},
		{`profile "p": log in: POST /v1/tokens: HTTP 503 (upstream unavailable)`,
			880 * time.Millisecond, "waiting for https://x: HTTP 503 (attempt 3, next in 880ms)"},
		{`timeout`, 0, "waiting for https://x: timeout (attempt 3)"},
	}
	for _, tt := range tests {
		s := host.ProfileStatus{Profile: "p", URL: "https://x", LastError: tt.lastErr, FailedAttempts: 3}
		if tt.next > 0 {
			s.NextAttemptAt = now.Add(tt.next)
		}
		if got := progressLine(s, now); got != tt.want {
			t.Errorf("progressLine(%q) = %q, want %q", tt.lastErr, got, tt.want)
		}
	}
}

// TestGetVerboseShowsRetries: a get waiting on an upstream that refuses
// connections says so on stderr, one line per retry, from the first
// seconds; without --verbose (and not on a terminal) stderr holds only
// the final line.
func TestGetVerboseShowsRetries(t *testing.T) {
	c := newCLITest(t, nil, testPassword) // url https://127.0.0.1:1: refused
	for _, verbose := range []bool{true, false} {
		args := []string{"get", "-p", "sddc", "--no-agent", "--timeout", "3s", "--format", "token"}
		if verbose {
			args = append(args, "--verbose")
		}
		o := c.run(context.Background(), "", args...)
		lines := strings.Split(strings.TrimSpace(o.stderr), "\n")
		waiting := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "tokenkeeper: waiting for https://127.0.0.1:1: connection refused (attempt ") {
				waiting++
			}
		}
		if o.code != exec.ExitUnavailable || (verbose && waiting == 0) || (!verbose && len(lines) != 1) {
			t.Errorf("verbose %v: exit %d, %d progress lines of %d; stderr:\n%s", verbose, o.code, waiting, len(lines), o.stderr)
		}
	}
}

// TestDefaultProfileFromEnvironment: $TOKENKEEPER_PROFILE names the
// profile of get, env and exec without --profile; a JSON request on stdin
// still wins for get (the Ansible lookup sends one, with its min validity).
func TestDefaultProfileFromEnvironment(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	ctx := context.Background()
	if o := c.run(ctx, "", "env", "--no-agent"); o.code != exec.ExitUsage || !strings.Contains(o.stderr, "TOKENKEEPER_PROFILE") {
		t.Errorf("env without a profile: exit %d: %s", o.code, o.stderr)
	}
	c.env["TOKENKEEPER_PROFILE"] = "sddc"
	if o := c.run(ctx, "", "get", "--no-agent"); o.code != 0 || decodeToken(t, o.stdout).Profile != "sddc" {
		t.Errorf("get with an empty stdin: exit %d: %s", o.code, o.stderr)
	}
	if o := c.run(ctx, "", "env", "--no-agent"); o.code != 0 || !strings.Contains(o.stdout, "export TOKENKEEPER_TOKEN=") {
		t.Errorf("env: exit %d: %s", o.code, o.stderr)
	}
	if o := c.run(ctx, "", "exec", "--no-agent", "--", "true"); o.code != 0 {
		t.Errorf("exec: exit %d: %s", o.code, o.stderr)
	}
	req := `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"other"}`
	if o := c.run(ctx, req, "get", "--no-agent"); o.code != exec.ExitUsage || !strings.Contains(o.stderr, `"other"`) {
		t.Errorf("get with a request for another profile: exit %d: %s", o.code, o.stderr)
	}
}

// TestTokenDocumentCarriesURLAndCAFile: scripts and playbooks take the
// upstream and its CA from the Token document instead of repeating them.
func TestTokenDocumentCarriesURLAndCAFile(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	o := c.run(context.Background(), "", "get", "-p", "sddc", "--no-agent")
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	if d := decodeToken(t, o.stdout); d.URL != u.srv.URL || d.CAFile != u.caFile {
		t.Errorf("url %q, caFile %q; want %q, %q", d.URL, d.CAFile, u.srv.URL, u.caFile)
	}
}

// TestLogTimesAreRFC3339: time values in the agent's log lines read as
// RFC 3339, not Go's time.String with its monotonic clock reading.
func TestLogTimesAreRFC3339(t *testing.T) {
	var b bytes.Buffer
	a := &app{env: cliEnv{Stderr: &b}}
	at := time.Now().Add(time.Minute) // carries a monotonic reading
	a.logger("info").Named("agent").With("since", at).Info("login rejected", "retry_at", at, "never", time.Time{}, "n", 1)
	line := b.String()
	want := at.Format(logTimeFormat)
	if strings.Contains(line, "m=+") || strings.Count(line, "="+want) != 2 || !strings.Contains(line, "never=never") {
		t.Errorf("log line %q: want retry_at and since as %s, no monotonic part", line, want)
	}
	if _, err := time.Parse(logTimeFormat, strings.Fields(line)[0]); err != nil {
		t.Errorf("the line's own time %q is not RFC 3339: %v", strings.Fields(line)[0], err)
	}
}

// TestConfigProblemsOnGet: get's one stderr line (and its Error document)
// names the first of several problems and points to config check.
func TestConfigProblemsOnGet(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	yaml := "profiles:\n  a:\n    provider: vcf\n    url: https://x\n    usernme: u\n    pasword: {env: P}\n" +
		"  b:\n    provider: vcf\n    url: https://y\n    api_key: {env: K}\n    timout: 3s\n"
	if err := os.WriteFile(c.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	o := c.run(context.Background(), "", "get", "-p", "a")
	line := strings.TrimSpace(o.stderr)
	if o.code != exec.ExitUsage || strings.Count(line, "\n") != 0 || !strings.Contains(line, "3 problems in the profiles file, the first: ") ||
		!strings.Contains(line, `unknown key "usernme" (did you mean "username"?)`) || strings.Contains(line, "timout") ||
		!strings.Contains(line, "tokenkeeper config check") {
		t.Errorf("exit %d, stderr %q", o.code, o.stderr)
	}
	if doc := o.stdout; !strings.Contains(doc, "3 problems") || strings.Contains(doc, "timout") {
		t.Errorf("Error document %s", doc)
	}
}

// TestNoConfigSaysWhatToDo: without a profiles file the message names
// the three ways to have one.
func TestNoConfigSaysWhatToDo(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	delete(c.env, "TOKENKEEPER_CONFIG")
	c.env["XDG_CONFIG_HOME"] = t.TempDir()
	o := c.run(context.Background(), "", "get", "-p", "a")
	for _, w := range []string{"no profiles file at " + c.env["XDG_CONFIG_HOME"], "--config", "$TOKENKEEPER_CONFIG", "tokenkeeper config init"} {
		if !strings.Contains(o.stderr, w) || o.code != exec.ExitUsage {
			t.Errorf("exit %d, stderr %q lacks %q", o.code, o.stderr, w)
		}
	}
	delete(c.env, "XDG_CONFIG_HOME")
	delete(c.env, "HOME")
	if o := c.run(context.Background(), "", "get", "-p", "a"); !strings.Contains(o.stderr, "--config FILE or set $TOKENKEEPER_CONFIG") {
		t.Errorf("no HOME: stderr %q", o.stderr)
	}
}

// TestAnsibleReadmeNamesTheCodes: the Ansible README's table of exit
// status 2 names the codes get really writes for an unknown profile, a
// bad profiles file and a bad flag (it said InvalidArgument for all).
func TestAnsibleReadmeNamesTheCodes(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "host", "ansible", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := ""
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "| 2 |") {
			row = l
		}
	}
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	bad := newCLITest(t, u, testPassword)
	if err := os.WriteFile(bad.config, []byte("profiles:\n  sddc:\n    provider: vcf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for what, o := range map[string]outcome{
		"unknown profile":       c.run(context.Background(), "", "get", "-p", "nope", "--no-agent"),
		"bad profiles file":     bad.run(context.Background(), "", "get", "-p", "sddc", "--no-agent"),
		"bad option or request": c.run(context.Background(), "", "get", "-p", "sddc", "--bogus"),
	} {
		var doc struct{ Error struct{ Code string } }
		if err := json.Unmarshal([]byte(o.stdout), &doc); err != nil || o.code != 2 {
			t.Fatalf("%s: exit %d, stdout %q", what, o.code, o.stdout)
		}
		if want := what + " (`" + doc.Error.Code + "`)"; !strings.Contains(row, want) {
			t.Errorf("the Ansible README's exit-2 row %q lacks %q", row, want)
		}
	}
}
