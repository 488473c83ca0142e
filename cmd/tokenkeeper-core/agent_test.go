package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// TestEnvNamesCoversEverySecretRef: every secret reference a profile can
// hold counts in the agent's identity, including ones added later.
func TestEnvNamesCoversEverySecretRef(t *testing.T) {
	p := &config.Profile{}
	v := reflect.ValueOf(p).Elem()
	var want []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type == reflect.TypeFor[*secret.Ref]() {
			v.Field(i).Set(reflect.ValueOf(&secret.Ref{Env: "TK_" + strings.ToUpper(f.Name)}))
			want = append(want, "TK_"+strings.ToUpper(f.Name))
		}
	}
	if len(want) < 4 {
		t.Fatalf("found only %d secret references in config.Profile", len(want))
	}
	file := &config.Profile{Password: &secret.Ref{File: "/x"}}
	got := envNames(&config.Config{Profiles: map[string]*config.Profile{"a": p, "b": file}})
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("envNames = %q, want %q", got, want)
	}
}

// TestAgentNeverGetsExecTokens: every variable `tokenkeeper exec` sets for
// its command is dropped from the environment an agent is spawned with.
func TestAgentNeverGetsExecTokens(t *testing.T) {
	vars := exec.EnvVars(exec.Token{Token: "tok", Header: exec.Header{Name: "Authorization", Value: "Bearer tok"}})
	env := agentconn.Environ(append([]string{"PATH=/bin"}, vars...))
	if !slices.Equal(env, []string{"PATH=/bin"}) {
		t.Fatalf("agent environment keeps %q", env)
	}
}

// TestAgentPerEnvironment: callers whose {env: …} values differ reach
// different agents; callers that agree share one; a config reading no
// variable keeps the plain socket Go hosts find.
func TestAgentPerEnvironment(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	socket := func(env map[string]string) string {
		t.Helper()
		a := &app{env: cliEnv{Getenv: func(k string) string { return env[k] }}}
		for k, v := range env {
			a.env.Environ = append(a.env.Environ, k+"="+v)
		}
		p, _, err := a.agentOf()
		if err != nil {
			t.Fatal(err)
		}
		return p.Socket
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range c.env {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	right := socket(with("TK_TEST_PW", "right"))
	if right != socket(with("TK_TEST_PW", "right", "UNRELATED", "x")) {
		t.Error("an unrelated variable changed the agent")
	}
	if socket(with("TK_TEST_PW", "wrong")) == right {
		t.Error("another password reaches the same agent")
	}
	if unset := socket(with("TK_TEST_PW", "")); unset == right {
		t.Error("a caller without the variable reaches the agent of one with it")
	}
	if s := socket(with("TK_TEST_PW", "right", "TOKENKEEPER_TOKEN", "tok")); s != right {
		t.Error("the token of an enclosing exec changed the agent")
	}
	if strings.Contains(right, "right") {
		t.Error("the socket name carries the value")
	}
	cfg := "profiles:\n  s:\n    provider: vcf\n    url: https://127.0.0.1:1\n    username: u\n    password: {file: /nonexistent}\n"
	if err := os.WriteFile(c.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := paths.OpenDir(filepath.Join(c.env["XDG_RUNTIME_DIR"], "tokenkeeper"))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	plain, err := paths.Locate(root, c.config, "")
	if err != nil || socket(c.env) != plain.Socket {
		t.Errorf("a config reading no variable: socket %s, want the plain %s (%v)", socket(c.env), plain.Socket, err)
	}
}

// TestAwaitExitUsesTheRuntimeClock: the wait for a stopped agent is
// measured on the runtime clock (the project's one time policy, tested in
// a synctest bubble) and ends with the caller's context.
func TestAwaitExitUsesTheRuntimeClock(t *testing.T) {
	alive := os.Getpid() // never gone while the test runs
	a := &app{}
	start := time.Now()
	synctest.Test(t, func(t *testing.T) {
		err := a.awaitExit(context.Background(), alive, 40*time.Second)
		var e *exec.Error
		if !errors.As(err, &e) || e.Code != exec.CodeUnavailable {
			t.Fatalf("awaitExit = %v, want Unavailable once the bubble's clock passed the wait", err)
		}
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("awaitExit waited %s of real time", d)
	}

	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := a.awaitExit(ctx, alive, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("awaitExit after the context ended = %v, want DeadlineExceeded", err)
		}
	})
}

// TestKeepAliveUntilIsTheLatestPromise: the agent holds for the latest
// keepalive promise of any profile; none holds nothing.
func TestKeepAliveUntilIsTheLatestPromise(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		st   []keeper.Status
		want time.Time
	}{
		{"no profiles", nil, time.Time{}},
		{"no promise", []keeper.Status{{Profile: "a", AccessExpiresAt: t0.Add(time.Hour)}}, time.Time{}},
		{"the latest of two", []keeper.Status{
			{Profile: "a", KeepAliveUntil: t0.Add(2 * time.Hour)},
			{Profile: "b", KeepAliveUntil: t0.Add(time.Hour)},
			{Profile: "c"},
		}, t0.Add(2 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keepAliveUntil(tt.st); !got.Equal(tt.want) {
				t.Fatalf("keepAliveUntil = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAgentHelpOneDefault: --idle-timeout names its default once, the
// config's, not also the flag's zero value as a duration.
func TestAgentHelpOneDefault(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	o := c.run(context.Background(), "", "agent", "--help")
	if o.code != 0 {
		t.Fatalf("agent --help: exit %d: %s", o.code, o.stderr)
	}
	var line string
	for l := range strings.Lines(o.stdout) {
		if strings.Contains(l, "--idle-timeout duration") {
			line = l
		}
	}
	want := "0 = never (default: the config's agent.idle_timeout, 15m)\n"
	if !strings.HasSuffix(line, want) || strings.Count(line, "(default") != 1 {
		t.Fatalf("agent --help: --idle-timeout line %q, want it to end with the one default %q", line, want)
	}
	if !strings.Contains(o.stdout, "keeps a Cloud Director session alive") {
		t.Fatal("agent --help does not say an idle agent waits for a keepalive promise")
	}
}

// TestAgentLogsConfigWarnings: an agent runs detached, where no caller sees
// what `get --no-agent` prints, so it logs the file's warnings at start.
func TestAgentLogsConfigWarnings(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	data, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.config, append(data, "    insecure_skip_verify: true\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan outcome, 1)
	go func() { done <- c.run(ctx, "", "agent", "--log-level", "warn") }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.run(context.Background(), "", "status", "--json").stdout, `"running": true`) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("in-process agent did not start: %s", (<-done).stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	o := <-done
	if !strings.Contains(o.stderr, "[WARN]") || !strings.Contains(o.stderr, `profile "sddc": field "insecure_skip_verify": is on`) {
		t.Fatalf("agent log lacks the configuration warning:\n%s", o.stderr)
	}
}
