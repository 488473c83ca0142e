// SPDX-License-Identifier: Apache-2.0

//go:build e2e

// Package e2e runs real Packer builds with packer-plugin-tokenkeeper against
// tokenkeeper-sim. `make e2e-packer` builds every binary and passes their
// paths in TK_E2E_* variables.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every external command runs under one of these bounds.
const (
	packerTimeout = 3 * time.Minute
	startTimeout  = 20 * time.Second
	stopTimeout   = 45 * time.Second
)

const (
	passwordEnv  = "TK_E2E_PASSWORD"
	pluginSource = "github.com/tokenkeeper/tokenkeeper"
)

// upstream is a simulator and the profile that talks to it.
type upstream struct {
	sim  string // tokenkeeper-sim subcommand
	user string // --user is user+"="+password+role
	role string // ":VIEWER" or "" (the simulator's default)
	// profile is the YAML of profile `name` for the simulator at url.
	profile func(name, url, caFile string) string
}

var (
	vcfUpstream = upstream{sim: "vcf", user: "svc-packer@vsphere.local", role: ":VIEWER",
		profile: func(name, url, ca string) string {
			return fmt.Sprintf("  %s:\n    provider: vcf\n    url: %s\n    ca_file: %s\n"+
				"    username: svc-packer@vsphere.local\n    password: {env: %s}\n", name, url, ca, passwordEnv)
		}}
	vcdUpstream = upstream{sim: "vcd", user: "svc-packer@ExampleOrg",
		profile: func(name, url, ca string) string {
			return fmt.Sprintf("  %s:\n    provider: vcd\n    url: %s\n    ca_file: %s\n    org: ExampleOrg\n"+
				"    username: svc-packer\n    password: {env: %s}\n", name, url, ca, passwordEnv)
		}}
)

// jwtShape matches any JWT header; a token in Packer's output would match.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.`)

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// binaries are the programs under test.
type binaries struct{ packer, plugin, tokenkeeper, sim string }

func mustBinaries(t *testing.T) binaries {
	t.Helper()
	get := func(name string) string {
		p := os.Getenv(name)
		if p == "" {
			t.Fatalf("%s is not set: run this through `make e2e-packer`", name)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	return binaries{
		packer: get("TK_E2E_PACKER"), plugin: get("TK_E2E_PLUGIN"),
		tokenkeeper: get("TK_E2E_TOKENKEEPER"), sim: get("TK_E2E_SIM"),
	}
}

// world is one isolated user: its own HOME, XDG dirs (so no agent from
// elsewhere is dialled), Packer config and plugin dirs, simulator and
// profiles file.
type world struct {
	t          *testing.T
	bin        binaries
	dir        string
	env        []string
	configPath string // the default tokenkeeper config of this world
	simURL     string
	caFile     string
	httpc      *http.Client
}

// newWorld is a world whose profile "sddc" talks to the VCF simulator.
func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOf(t, vcfUpstream, "sddc")
}

// newWorldOf is a world whose profile `name` talks to up's simulator.
func newWorldOf(t *testing.T, up upstream, name string) *world {
	t.Helper()
	w := &world{t: t, bin: mustBinaries(t), dir: t.TempDir()}
	dirs := map[string]string{}
	for _, d := range []string{"home", "run", "xdg", "packer", "plugins", "cache"} {
		dirs[d] = filepath.Join(w.dir, d)
		if err := os.MkdirAll(dirs[d], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	password := make([]byte, 12)
	_, _ = rand.Read(password)
	w.env = append(cleanEnv(os.Environ()),
		"HOME="+dirs["home"],
		"XDG_RUNTIME_DIR="+dirs["run"],
		"XDG_CONFIG_HOME="+dirs["xdg"],
		"PACKER_CONFIG_DIR="+dirs["packer"],
		"PACKER_PLUGIN_PATH="+dirs["plugins"],
		"PACKER_CACHE_DIR="+dirs["cache"],
		"CHECKPOINT_DISABLE=1",
		// The template's default helper is `tokenkeeper` on PATH.
		"PATH="+filepath.Dir(w.bin.tokenkeeper)+string(os.PathListSeparator)+os.Getenv("PATH"),
		passwordEnv+"="+hex.EncodeToString(password),
	)
	w.configPath = filepath.Join(dirs["xdg"], "tokenkeeper", "config.yaml")
	w.startSim(up, hex.EncodeToString(password))
	w.writeConfig("profiles:\n" + up.profile(name, w.simURL, w.caFile))
	return w
}

// cleanEnv drops whatever could point the tools at the real user's agent,
// profiles or Packer setup.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TOKENKEEPER") || strings.HasPrefix(name, "PACKER") ||
			strings.HasPrefix(name, "XDG_") || name == "HOME" || name == "PATH" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// startSim runs `tokenkeeper-sim vcf|vcd --tls` on a free loopback port
// and stops it (by PID) when the test ends.
func (w *world) startSim(up upstream, password string) {
	t := w.t
	caOut := filepath.Join(w.dir, "sim-ca.pem")
	cmd := exec.Command(w.bin.sim, up.sim, "--listen", "127.0.0.1:0", "--tls", "--ca-out", caOut,
		"--user", up.user+"="+password+up.role)
	cmd.Env = w.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	// One reader owns stdout: the ready line, then drain until exit (Wait
	// only after the reads are done).
	line, exited := make(chan string, 1), make(chan error, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { stopProcess(t, cmd.Process, exited, "simulator") })
	var ready struct{ URL, CAFile string }
	select {
	case l, ok := <-line:
		if !ok || json.Unmarshal([]byte(l), &ready) != nil || ready.URL == "" {
			t.Fatalf("simulator did not print its ready line (got %q); stderr:\n%s", l, stderr.String())
		}
	case <-time.After(startTimeout):
		t.Fatalf("simulator not ready within %s", startTimeout)
	}
	w.simURL, w.caFile = ready.URL, ready.CAFile
	if w.caFile == "" {
		w.caFile = caOut
	}
	pem, err := os.ReadFile(w.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("simulator CA file holds no certificate")
	}
	w.httpc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (w *world) writeConfig(yaml string) {
	if err := os.MkdirAll(filepath.Dir(w.configPath), 0o700); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(w.configPath, []byte(yaml), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// stats reads the simulator's counters.
type stats struct {
	Logins, LoginFailures, Refreshes, Revocations, APICalls, Unauthorized, ActiveSessions int64
}

func (w *world) stats() stats {
	w.t.Helper()
	resp, err := w.httpc.Get(w.simURL + "/_sim/stats")
	if err != nil {
		w.t.Fatalf("simulator stats: %v", err)
	}
	defer resp.Body.Close()
	var s stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		w.t.Fatalf("simulator stats: %v", err)
	}
	return s
}

// result is one finished command.
type result struct {
	out  string // stdout and stderr, ANSI colours removed
	code int
}

// run runs a command of this world from its directory, bounded. Output
// goes to a file, not a pipe: a detached agent started by `tokenkeeper get`
// inside a build may inherit the descriptors (see the report), and a pipe
// would then stay open until that agent exits.
func (w *world) run(timeout time.Duration, name string, args ...string) result {
	w.t.Helper()
	return w.runEnv(nil, timeout, name, args...)
}

// runEnv is run with extra environment variables.
func (w *world) runEnv(extra []string, timeout time.Duration, name string, args ...string) result {
	w.t.Helper()
	f, err := os.CreateTemp(w.dir, "out-*.log")
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = append(w.env[:len(w.env):len(w.env)], extra...), w.dir, f, f
	err = cmd.Run()
	b, rerr := os.ReadFile(f.Name())
	if rerr != nil {
		w.t.Fatal(rerr)
	}
	out := ansi.ReplaceAllString(string(b), "")
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		w.t.Fatalf("%s %s: timed out after %s; output:\n%s", filepath.Base(name), args[0], timeout, redact(out))
	case errors.As(err, &exit):
		return result{out: out, code: exit.ExitCode()}
	case err != nil:
		w.t.Fatalf("%s: %v", name, err)
	}
	return result{out: out}
}

func (w *world) packer(args ...string) result {
	w.t.Helper()
	return w.run(packerTimeout, w.bin.packer, args...)
}

// installPlugin installs the plugin the way a user does, and checks the
// name Packer gave the installed binary.
func (w *world) installPlugin() {
	t := w.t
	t.Helper()
	r := w.packer("plugins", "install", "--path", w.bin.plugin, pluginSource)
	if r.code != 0 {
		t.Fatalf("packer plugins install: exit %d:\n%s", r.code, r.out)
	}
	pattern := filepath.Join(w.dir, "plugins", "github.com", "tokenkeeper", "tokenkeeper",
		fmt.Sprintf("packer-plugin-tokenkeeper_v*_x*_%s_%s", runtime.GOOS, runtime.GOARCH))
	if m, _ := filepath.Glob(pattern); len(m) != 1 {
		t.Fatalf("installed plugin: %d files match %s; install said:\n%s", len(m), pattern, r.out)
	}
}

// stopAgent stops the agent of this world's default config, if any.
func (w *world) stopAgent() {
	w.t.Helper()
	if r := w.run(stopTimeout+5*time.Second, w.bin.tokenkeeper, "agent", "stop"); r.code != 0 {
		w.t.Errorf("tokenkeeper agent stop: exit %d:\n%s", r.code, redact(r.out))
	}
}

// stopProcess ends a process this test started: SIGTERM, then SIGKILL.
func stopProcess(t *testing.T, p *os.Process, exited <-chan error, what string) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		t.Errorf("%s (pid %d) ignored SIGTERM for %s; killing it", what, p.Pid, stopTimeout)
		_ = p.Kill()
		<-exited
	}
}

// assertNoToken fails when anything JWT-shaped is in out, without printing
// it.
func assertNoToken(t *testing.T, what, out string) {
	t.Helper()
	if loc := jwtShape.FindStringIndex(out); loc != nil {
		t.Errorf("%s: a JWT-shaped string appears at byte %d of the output (%d bytes)", what, loc[0], len(out))
	}
}

// redact removes anything JWT-shaped before output goes to a failure message.
func redact(s string) string {
	return regexp.MustCompile(`eyJ[A-Za-z0-9_.-]+`).ReplaceAllString(s, "<jwt>")
}

// assertContains fails when out lacks want; the output is shown redacted.
func assertContains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q; output:\n%s", what, w, redact(out))
		}
	}
}
