//go:build docscheck

package docs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bounds of one block's run and of the cleanup after it.
const (
	blockTimeout = 4 * time.Minute
	stopTimeout  = 5 * time.Second
)

// TestDocExamples runs every runnable block of README.md and of every
// docs/*.md page, each in a fresh private HOME, runtime, config and temp
// dir, after the blocks it needs (of any page), with bash -e. A failure
// names the page and line that failed.
func TestDocExamples(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"tokenkeeper", "tokenkeeper-core", "tokenkeeper-sim"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			t.Fatalf("bin/%s is missing: run make build first (make docs-check does)", b)
		}
	}
	goEnv := goEnvironment(t)
	blocks := docBlocks(t)
	ids := map[string]block{}
	for _, b := range blocks {
		if b.ann.id != "" {
			ids[b.ann.id] = b
		}
	}
	for _, b := range blocks {
		if !b.runnable() {
			continue
		}
		t.Run(b.testName(), func(t *testing.T) {
			t.Parallel() // each block has its own HOME, temp dir and port
			if b.ann.skip != "" {
				t.Skipf("skipped by its annotation: %s", b.ann.skip)
			}
			chain, err := chain(b, ids)
			if err != nil {
				t.Fatal(err)
			}
			w := newWorld(t, root, goEnv)
			for _, x := range chain {
				w.requireTools(t, x.ann.requires)
			}
			w.run(t, chain)
		})
	}
}

// world is one block's private user: directories, environment, the port
// the walkthrough's simulator listens on.
type world struct {
	root, home, tmp, port string
	env                   []string
}

func newWorld(t *testing.T, root string, goEnv []string) *world {
	// Not t.TempDir: the test's name holds characters the pages'
	// unquoted paths would break on.
	dir, err := os.MkdirTemp("", "tk-docs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	w := &world{root: root, home: filepath.Join(dir, "home"), tmp: filepath.Join(dir, "tmp"), port: freePort(t)}
	run := filepath.Join(dir, "run")
	for _, d := range []string{w.home, w.tmp, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(root, "bin")
	if p := os.Getenv("TK_DOCS_PACKER"); p != "" {
		path += string(os.PathListSeparator) + filepath.Dir(p)
	}
	w.env = append(slices.Clone(goEnv), // a copy: worlds are made in parallel
		"PATH="+path+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+w.home,
		"XDG_RUNTIME_DIR="+run,
		"XDG_CONFIG_HOME="+filepath.Join(w.home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(w.home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(w.home, ".local", "share"),
		"TMPDIR="+w.tmp,
		"LANG=C.UTF-8", "TERM=dumb",
		"CHECKPOINT_DISABLE=1",        // Packer: no call home
		"PYTHONDONTWRITEBYTECODE=1",   // Ansible: no __pycache__ in the tree
		"ANSIBLE_LOCALHOST_WARNING=0", // the pages' tasks target localhost
		"ANSIBLE_PYTHON_INTERPRETER=auto_silent",
		// Ansible expands a "remote" ~ from the passwd entry, not $HOME:
		// without these, -c local writes to the real user's ~/.ansible/tmp.
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(w.home, ".ansible", "tmp"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(w.home, ".ansible", "tmp"),
		"TK_DOCS_ERRLINE="+filepath.Join(dir, "errline"),
	)
	if ci := os.Getenv("CI"); ci != "" {
		w.env = append(w.env, "CI="+ci)
	}
	return w
}

// requireTools skips the test when a tool a block needs is missing, except
// in CI, where it fails.
func (w *world) requireTools(t *testing.T, tools []string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := lookPath(tool, w.env); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not on PATH; make docs-check installs or builds it in CI", tool)
			}
			t.Skipf("%s is not on PATH (make docs-check CI=true installs or builds it)", tool)
		}
	}
}

// lookPath finds tool on env's PATH.
func lookPath(tool string, env []string) (string, error) {
	for _, kv := range slices.Backward(env) {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range filepath.SplitList(p) {
				if fi, err := os.Stat(filepath.Join(dir, tool)); err == nil && fi.Mode()&0o111 != 0 {
					return filepath.Join(dir, tool), nil
				}
			}
			break
		}
	}
	return "", exec.ErrNotFound
}

// source is where a line of the generated script comes from.
type source struct {
	block string // the block's name: page, line and id
	file  string // the page
	line  int    // line of the page; 0 for the harness's own lines
	text  string
}

// script turns the chain into one bash script and the page line of each
// of its lines.
func (w *world) script(t *testing.T, chain []block) (string, []source) {
	t.Helper()
	lines := []string{"set -eo pipefail", `trap 'echo "$LINENO" > "$TK_DOCS_ERRLINE"' ERR`}
	srcs := []source{{}, {}}
	add := func(l string, s source) { lines, srcs = append(lines, l), append(srcs, s) }
	for n, b := range chain {
		body, err := b.apply()
		if err != nil {
			t.Fatal(err)
		}
		for i := range body {
			body[i] = w.substitute(body[i])
		}
		add("echo '=== "+b.name()+"' >&2", source{})
		switch b.ann.run {
		case "sh":
			for i, l := range body {
				add(l, source{block: b.name(), file: b.file, line: b.line + 1 + i, text: b.body[i]})
			}
		case "ansible-task":
			file := w.writeFile(t, fmt.Sprintf("block-%d.yml", n), ansiblePlaybook(body))
			add("ansible-playbook -i localhost, -c local "+file, source{block: b.name(), file: b.file, line: b.line, text: "(the task, in a playbook)"})
		case "packer-build":
			file := w.writeFile(t, fmt.Sprintf("block-%d.pkr.hcl", n), strings.Join(body, "\n")+"\n")
			add("(cd "+w.tmp+" && packer build -color=false "+file+")", source{block: b.name(), file: b.file, line: b.line, text: "(the template, with packer build)"})
		}
	}
	return strings.Join(lines, "\n") + "\n", srcs
}

// ansiblePlaybook wraps a page's task list in a playbook for localhost.
func ansiblePlaybook(tasks []string) string {
	var sb strings.Builder
	sb.WriteString("- hosts: localhost\n  gather_facts: false\n  tasks:\n")
	for _, l := range tasks {
		sb.WriteString("    " + l + "\n")
	}
	return sb.String()
}

func (w *world) writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(w.tmp, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var tmpPath = regexp.MustCompile(`(^|[\s'"=(:])/tmp\b`)

// substitute points the pages' fixed places at this run's: /tmp at the
// private temp dir, the walkthrough's port 8443 at a free port, and the
// lab (https://sddc-manager.lab.local, sddc-manager.lab.local:443 and its
// CA) at the walkthrough's simulator.
func (w *world) substitute(l string) string {
	l = tmpPath.ReplaceAllString(l, "${1}"+w.tmp)
	return strings.NewReplacer(
		"127.0.0.1:8443", "127.0.0.1:"+w.port,
		"https://sddc-manager.lab.local", "https://127.0.0.1:"+w.port,
		"sddc-manager.lab.local:443", "127.0.0.1:"+w.port,
		"/etc/ssl/sddc-ca.pem", filepath.Join(w.tmp, "sim-ca.pem"),
	).Replace(l)
}

// failure is how a chain failed: the error, the page line of the
// failing command (line 0 when none was recorded) and the output.
type failure struct {
	err    error
	where  source
	output string
}

func (f *failure) String() string {
	where := "(no line recorded)"
	if f.where.line != 0 {
		where = fmt.Sprintf("%s:%d (in %s): %s", f.where.file, f.where.line, f.where.block, strings.TrimSpace(f.where.text))
	}
	return fmt.Sprintf("a documented example failed: %v\nfailing line: %s\noutput (tokens redacted):\n%s",
		f.err, where, tail(redact(f.output), 80))
}

// run runs the chain and fails the test with the page line that failed.
func (w *world) run(t *testing.T, chain []block) {
	t.Helper()
	if f := w.runChain(t, chain); f != nil {
		t.Fatal(f)
	}
}

// runChain runs the chain's script with bash in the repository root,
// bounded by blockTimeout, and returns how it failed (nil when it passed).
func (w *world) runChain(t *testing.T, chain []block) *failure {
	t.Helper()
	text, srcs := w.script(t, chain)
	scriptFile := w.writeFile(t, "readme.sh", text)
	out, err := os.Create(filepath.Join(w.tmp, "output.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("bash", scriptFile)
	cmd.Dir, cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = w.root, w.env, nil, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = stopTimeout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer w.cleanup(t, cmd.Process.Pid)
	select {
	case err = <-done:
	case <-time.After(blockTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = fmt.Errorf("still running after %s: %w", blockTimeout, <-done)
	}
	t.Logf("%s: %s", chain[len(chain)-1].name(), time.Since(start).Round(time.Millisecond))
	if err == nil {
		if os.Getenv("TK_DOCS_VERBOSE") != "" {
			log, _ := os.ReadFile(out.Name())
			t.Logf("output (tokens redacted):\n%s", tail(redact(string(log)), 200))
		}
		return nil
	}
	f := &failure{err: err}
	if b, rerr := os.ReadFile(w.errlinePath()); rerr == nil {
		if n, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && n >= 1 && n <= len(srcs) {
			f.where = srcs[n-1]
		}
	}
	log, _ := os.ReadFile(out.Name())
	f.output = string(log)
	return f
}

func (w *world) errlinePath() string {
	for _, kv := range w.env {
		if p, ok := strings.CutPrefix(kv, "TK_DOCS_ERRLINE="); ok {
			return p
		}
	}
	return ""
}

// cleanup ends what the block left running, by PID: first the processes
// of this private HOME outside the block's process group (agents detach
// into sessions of their own), so they revoke against a live simulator,
// then the group (a simulator started with &).
func (w *world) cleanup(t *testing.T, pgid int) {
	t.Helper()
	var detached []int
	for _, pid := range processesWithEnv("HOME=" + w.home) {
		if g, err := syscall.Getpgid(pid); err == nil && g != pgid {
			detached = append(detached, pid)
		}
	}
	for _, pid := range detached {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	waitGone(func() bool {
		detached = slices.DeleteFunc(detached, func(pid int) bool { return syscall.Kill(pid, 0) != nil })
		return len(detached) == 0
	})
	for _, pid := range detached {
		t.Logf("pid %d did not stop within %s of SIGTERM: killing it", pid, stopTimeout)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	waitGone(func() bool { return syscall.Kill(-pgid, 0) != nil })
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// waitGone polls gone for up to stopTimeout.
func waitGone(gone func() bool) {
	for deadline := time.Now().Add(stopTimeout); !gone() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
}

// processesWithEnv lists the PIDs whose environment holds kv.
func processesWithEnv(kv string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && slices.ContainsFunc(bytes.Split(env, []byte{0}), func(v []byte) bool { return string(v) == kv }) {
			pids = append(pids, pid)
		}
	}
	return pids
}

var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

// redact hides tokens in the output shown on failure.
func redact(s string) string { return jwtLike.ReplaceAllString(s, "eyJ…(redacted)") }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// freePort returns a loopback port nothing listens on now, for the
// walkthrough's fixed --listen 127.0.0.1:8443.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// goEnvironment is the Go settings of the invoking user, so `make build`
// in a private HOME reuses the build and module caches.
func goEnvironment(t *testing.T) []string {
	t.Helper()
	names := []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOSUMDB", "GOFLAGS", "GOTOOLCHAIN",
		"GONOSUMDB", "GONOPROXY", "GOPRIVATE", "GOINSECURE"}
	out, err := exec.Command("go", append([]string{"env", "-json"}, names...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("go env: %v", err)
	}
	var env []string
	for _, n := range names {
		if v := m[n]; v != "" {
			env = append(env, n+"="+v)
		}
	}
	if len(env) == 0 {
		t.Fatal(errors.New("go env returned nothing"))
	}
	return env
}

// TestCheckCatchesShortTokens is the check's own acceptance test: with the
// walkthrough's simulator back at --access-ttl 5m, the "Every verb" block
// fails at its `get --min-validity 10m`, and the failure names that line.
func TestCheckCatchesShortTokens(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	const asks = "tokenkeeper get --profile sddc --min-validity 10m"
	blocks := docBlocks(t)
	ids := map[string]block{}
	var verbs *block
	for i, b := range blocks {
		if b.ann.id != "" {
			ids[b.ann.id] = b
		}
		if b.runnable() && slices.ContainsFunc(b.body, func(l string) bool { return commandOf(l) == asks }) {
			verbs = &blocks[i]
		}
	}
	walk, ok := ids["walkthrough"]
	if !ok || verbs == nil {
		t.Fatalf("the pages have no walkthrough block or no block running %q: update this test with the pages", asks)
	}
	walk.ann.replace = append(walk.ann.replace, edit{from: "--access-ttl 60m", to: "--access-ttl 5m", reason: "this test"})
	ids["walkthrough"] = walk
	chain, err := chain(*verbs, ids)
	if err != nil {
		t.Fatal(err)
	}
	f := newWorld(t, root, goEnvironment(t)).runChain(t, chain)
	if f == nil {
		t.Fatal("the documented examples passed against 5-minute tokens: the check cannot see a --min-validity it cannot meet")
	}
	if strings.TrimSpace(f.where.text) != asks || f.where.file != verbs.file {
		t.Fatalf("the failure names %s: %q, want %s: %q:\n%s", f.where.file, f.where.text, verbs.file, asks, f)
	}
	if !strings.Contains(f.output, "min validity exceeds the token lifetime") {
		t.Fatalf("the output lacks tokenkeeper's reason:\n%s", f)
	}
	t.Logf("as expected: %s:%d (%s) fails against 5-minute tokens", f.where.file, f.where.line, asks)
}
