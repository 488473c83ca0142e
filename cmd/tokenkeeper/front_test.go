package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	served := []struct {
		args []string
		want call
	}{
		{[]string{"get", "--profile", "sddc"}, call{verb: "get", profile: "sddc", format: "json", timeout: defaultTimeout}},
		{[]string{"get", "-p", "sddc", "-o", "header", "--min-validity=10m", "--force-refresh", "--allow-shorter=false", "--timeout", "5s", "--config=/c.yaml"},
			call{verb: "get", profile: "sddc", format: "header", minValidity: 10 * time.Minute, forceRefresh: true, timeout: 5 * time.Second, config: "/c.yaml"}},
		{[]string{"get"}, call{verb: "get", format: "json", timeout: defaultTimeout}},
		{[]string{"invalidate", "-p", "a", "--fingerprint", "sha256:1", "--reason=401 from GET /x"},
			call{verb: "invalidate", profile: "a", fingerprint: "sha256:1", reason: "401 from GET /x", format: "json", timeout: defaultTimeout}},
		{[]string{"env", "--profile=a", "--allow-shorter"}, call{verb: "env", profile: "a", allowShorter: true, format: "json", timeout: defaultTimeout}},
		{[]string{"exec", "-p", "a", "--", "sh", "-c", "x"}, call{verb: "exec", profile: "a", argv: []string{"sh", "-c", "x"}, format: "json", timeout: defaultTimeout}},
		{[]string{"exec", "-p", "a", "curl", "-v"}, call{verb: "exec", profile: "a", argv: []string{"curl", "-v"}, format: "json", timeout: defaultTimeout}},
	}
	for _, tt := range served {
		got, ok := parse(tt.args)
		if !ok {
			t.Errorf("parse(%q): not served; want %+v", tt.args, tt.want)
			continue
		}
		got.set = nil
		if !equalCalls(*got, tt.want) {
			t.Errorf("parse(%q) = %+v; want %+v", tt.args, *got, tt.want)
		}
	}
	delegated := [][]string{
		nil, {"status"}, {"--config", "/c", "get"}, {"version"}, {"__complete", "get", ""},
		{"get", "--help"}, {"get", "-h"}, {"get", "--no-agent", "-p", "a"}, {"get", "-p", "a", "-v"},
		{"get", "-p", "a", "--verbose"}, {"get", "-p", "a", "--log-level", "debug"}, {"get", "-psddc"},
		{"get", "-p", "a", "extra"}, {"get", "-p", "a", "--"}, {"get", "-p", "a", "-p", "b"},
		{"get", "-p", "a", "--format", "yaml"}, {"get", "-p", "a", "--min-validity", "-1m"},
		{"get", "-p", "a", "--min-validity", "10"}, {"get", "-p", "a", "--timeout", "0s"},
		{"get", "--profile="}, {"get", "--profile", "\xff"}, {"get", "-p"}, {"get", "-p", "--force-refresh"},
		{"get", "-p", "a", "--force-refresh=yes"}, {"get", "-p", "a", "--fingerprint", "x"},
		{"env", "-p", "a", "--force-refresh"}, {"exec", "-p", "a", "--proxy", "--", "sh"}, {"exec", "-p", "a"},
		{"exec", "-p", "a", "--"}, {"invalidate", "-p", "a", "--format", "json"}, {"logout", "-p", "a"},
	}
	for _, args := range delegated {
		if c, ok := parse(args); ok {
			t.Errorf("parse(%q) = %+v: the core must take it", args, c)
		}
	}
}

func equalCalls(a, b call) bool {
	return a.verb == b.verb && a.profile == b.profile && a.minValidity == b.minValidity && a.forceRefresh == b.forceRefresh &&
		a.allowShorter == b.allowShorter && a.format == b.format && a.timeout == b.timeout && a.config == b.config &&
		a.fingerprint == b.fingerprint && a.reason == b.reason && slices.Equal(a.argv, b.argv)
}

// execed is what a front under test exec'd.
type execed struct {
	path       string
	argv, env  []string
	calls      int
	stdout     bytes.Buffer
	stderr     bytes.Buffer
	installDir string
}

var errExeced = errors.New("exec'd (test)")

// newFront is a front installed in a fresh directory with its core
// beside it (core false: without), in an environment of its own.
func newFront(t *testing.T, core bool, env map[string]string) (front, *execed) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "tokenkeeper")
	writeExe(t, exe)
	if core {
		writeExe(t, filepath.Join(bin, coreName))
	}
	e := &execed{installDir: dir}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	f := front{Stdin: strings.NewReader(""), Stdout: &e.stdout, Stderr: &e.stderr,
		Getenv: func(k string) string { return env[k] }, Environ: environ, Executable: func() (string, error) { return exe, nil },
		Exec: func(path string, argv, env []string) error {
			e.path, e.argv, e.env = path, argv, env
			e.calls++
			return errExeced
		}}
	return f, e
}

func writeExe(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestFindCore: beside the front, else ../libexec/tokenkeeper/, through a
// symlink to the front too.
func TestFindCore(t *testing.T) {
	dir := t.TempDir()
	bin, libexec := filepath.Join(dir, "bin"), filepath.Join(dir, "libexec", "tokenkeeper")
	for _, d := range []string{bin, libexec, filepath.Join(dir, "elsewhere")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	front := filepath.Join(bin, "tokenkeeper")
	writeExe(t, front)
	link := filepath.Join(dir, "elsewhere", "tokenkeeper")
	if err := os.Symlink(front, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := findCore(front); !errors.Is(err, errNoCore) {
		t.Fatalf("no core installed: err = %v", err)
	}
	writeExe(t, filepath.Join(libexec, coreName))
	if got, _, err := findCore(link); err != nil || got != filepath.Join(libexec, coreName) {
		t.Fatalf("libexec through a symlink: %q, %v", got, err)
	}
	beside := filepath.Join(bin, coreName)
	if err := os.WriteFile(beside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := findCore(front); got != filepath.Join(libexec, coreName) {
		t.Fatalf("a core that is not executable counts: %q", got)
	}
	writeExe(t, beside+".new")
	if err := os.Rename(beside+".new", beside); err != nil {
		t.Fatal(err)
	}
	if got, _, err := findCore(link); err != nil || got != beside {
		t.Fatalf("beside: %q, %v", got, err)
	}
}

// TestMissingCore: one stderr line naming both places looked at, exit 1,
// nothing on stdout.
func TestMissingCore(t *testing.T) {
	f, e := newFront(t, false, nil)
	f.Args = []string{"tokenkeeper", "status"}
	if code := run(context.Background(), &f); code != 1 {
		t.Fatalf("exit %d", code)
	}
	bin := filepath.Join(e.installDir, "bin")
	want := "tokenkeeper: the full tokenkeeper CLI is not installed: looked for " + filepath.Join(bin, coreName) +
		" and " + filepath.Join(e.installDir, "libexec", "tokenkeeper", coreName) + "; reinstall tokenkeeper\n"
	if e.stderr.String() != want || e.stdout.Len() != 0 || e.calls != 0 {
		t.Fatalf("stderr %q, want %q; stdout %q", e.stderr.String(), want, e.stdout.String())
	}
}

// TestPluginModeFirst: with go-plugin's cookie set the core gets the
// process as it is, even for a command line the front would serve.
func TestPluginModeFirst(t *testing.T) {
	f, e := newFront(t, true, map[string]string{pluginCookieKey: "x", "TOKENKEEPER_CONFIG": "/nonexistent"})
	f.Args = []string{"/usr/bin/tokenkeeper", "get", "--profile", "sddc"}
	run(context.Background(), &f)
	if e.calls != 1 || e.path != filepath.Join(e.installDir, "bin", coreName) || !slices.Equal(e.argv, f.Args) ||
		!slices.Equal(e.env, f.Environ) || e.stdout.Len() != 0 {
		t.Fatalf("exec'd %q %q env %q; stdout %q", e.path, e.argv, e.env, e.stdout.String())
	}
}

// TestDelegatesWhatItDoesNotServe: the core gets the same argv and
// environment, argv[0] kept.
func TestDelegatesWhatItDoesNotServe(t *testing.T) {
	for _, args := range [][]string{{"tk", "status"}, {"tk", "get", "--help"}, {"tk", "__complete", "get", "--p"}} {
		f, e := newFront(t, true, map[string]string{"HOME": t.TempDir()})
		f.Args = args
		run(context.Background(), &f)
		if e.calls != 1 || !slices.Equal(e.argv, args) {
			t.Errorf("%q: exec'd %q", args, e.argv)
		}
	}
}

// TestStdinRequestBecomesFlags: a request the front read from stdin
// before finding that the core must serve it (here: no agent has ever
// run) reaches the core as the equivalent flags.
func TestStdinRequestBecomesFlags(t *testing.T) {
	home := t.TempDir()
	cfg := filepath.Join(home, "c.yaml")
	if err := os.WriteFile(cfg, []byte("profiles: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": home, "XDG_RUNTIME_DIR": runtimeDir(t), "TOKENKEEPER_CONFIG": cfg}
	f, e := newFront(t, true, env)
	f.Args = []string{"tk", "get", "--format", "token"}
	f.Stdin = strings.NewReader(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"-odd","minValidity":"90s","forceRefresh":true,"allowShorter":true}`)
	run(context.Background(), &f)
	if e.calls != 1 || len(e.argv) != 8 {
		t.Fatalf("exec'd %q", e.argv)
	}
	want := []string{"tk", "get", "--profile=-odd", "--min-validity=1m30s", "--format=token", "--force-refresh", "--allow-shorter"}
	if !slices.Equal(e.argv[:7], want) || !strings.HasPrefix(e.argv[7], "--timeout=") {
		t.Fatalf("exec'd %q, want %q and --timeout", e.argv, want)
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(e.argv[7], "--timeout=")); err != nil || d > defaultTimeout || d < defaultTimeout-10*time.Second {
		t.Fatalf("timeout %s, %v: want what is left of the default %s", e.argv[7], err, defaultTimeout)
	}

	f, e = newFront(t, true, env)
	f.Args = []string{"tk", "invalidate", "--config", cfg}
	f.Stdin = strings.NewReader(`{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"p","fingerprint":"sha256:1","reason":"401"}`)
	run(context.Background(), &f)
	want = []string{"tk", "invalidate", "--profile=p", "--fingerprint=sha256:1", "--reason=401"}
	if e.calls != 1 || len(e.argv) != 7 || !slices.Equal(e.argv[:5], want) || e.argv[6] != "--config="+cfg {
		t.Fatalf("exec'd %q, want %q, --timeout and --config", e.argv, want)
	}
}

// TestBadRequestAnsweredByFront: a request the front read and refused is
// answered as the core would (it cannot be handed on): the Error
// document, one stderr line, exit 2.
func TestBadRequestAnsweredByFront(t *testing.T) {
	f, e := newFront(t, true, map[string]string{"HOME": t.TempDir()})
	f.Args = []string{"tk", "get"}
	f.Stdin = strings.NewReader(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","bogus":1}`)
	if code := run(context.Background(), &f); code != 2 || e.calls != 0 {
		t.Fatalf("exit %d, %d execs", code, e.calls)
	}
	if !strings.Contains(e.stdout.String(), `"kind":"Error"`) || strings.Count(e.stderr.String(), "\n") != 1 {
		t.Fatalf("stdout %q stderr %q", e.stdout.String(), e.stderr.String())
	}
}

// runtimeDir is a private runtime directory for one test.
func runtimeDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}
