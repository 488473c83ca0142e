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
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
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
	env := agent.Environ(append([]string{"PATH=/bin"}, vars...))
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
		p, _, _, err := a.agentPaths()
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
	plain, err := agent.PathsFor(filepath.Join(c.env["XDG_RUNTIME_DIR"], "tokenkeeper"), c.config)
	if err != nil || socket(c.env) != plain.Socket {
		t.Errorf("a config reading no variable: socket %s, want the plain %s (%v)", socket(c.env), plain.Socket, err)
	}
}

// TestConfigWatch: the agent retires when the file's bytes change, not
// when a tool rewrites the same bytes.
func TestConfigWatch(t *testing.T) {
	const orig = "profiles: {}\n"
	tests := []struct {
		name   string
		change func(path string) error
		stale  bool
	}{
		{"untouched", func(string) error { return nil }, false},
		{"same bytes, new mtime", func(p string) error {
			later := time.Now().Add(time.Hour)
			return errors.Join(os.WriteFile(p, []byte(orig), 0o600), os.Chtimes(p, later, later))
		}, false},
		{"same bytes renamed into place", func(p string) error {
			tmp := p + ".new"
			return errors.Join(os.WriteFile(tmp, []byte(orig), 0o600), os.Rename(tmp, p))
		}, false},
		{"same size, other bytes", func(p string) error { return os.WriteFile(p, []byte("profiles: []\n"), 0o600) }, true},
		{"removed", os.Remove, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			stale := configWatch(path)
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			if got := stale(); got != tc.stale {
				t.Fatalf("stale = %v, want %v", got, tc.stale)
			}
		})
	}
}

// TestAwaitExitUsesInjectedClock: the wait for a stopped agent is
// measured on the app's clock and ends with the caller's context.
func TestAwaitExitUsesInjectedClock(t *testing.T) {
	alive := os.Getpid() // never gone while the test runs
	t0 := time.Now()
	calls := 0
	a := &app{env: cliEnv{Now: func() time.Time { calls++; return t0.Add(time.Duration(calls) * time.Minute) }}}
	start := time.Now()
	err := a.awaitExit(context.Background(), alive, 40*time.Second)
	var e *exec.Error
	if !errors.As(err, &e) || e.Code != exec.CodeUnavailable {
		t.Fatalf("awaitExit = %v, want Unavailable once the injected clock passed the wait", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("awaitExit waited %s of real time", d)
	}

	a.env.Now = func() time.Time { return t0 }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.awaitExit(ctx, alive, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("awaitExit after the context ended = %v, want DeadlineExceeded", err)
	}
}
