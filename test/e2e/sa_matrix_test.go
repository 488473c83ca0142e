package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// The service-account rows of the fault matrix (issue 9, cases 4 and 5):
// a Cloud Director service-account token rotates on every exchange, and
// each row ends with the token the simulator accepts recoverable — in the
// file, or in the recovery file the error names.
func TestServiceAccountMatrix(t *testing.T) {
	binaries(t) // skips under -short
	t.Run("single-file-bind-mount", saBindMount)
	t.Run("full-tmpfs", saFullDisk)
	t.Run("immutable-file", saImmutable)
	t.Run("store-fails-after-exchange-no-agent", saStoreFailsOneShot)
	t.Run("store-fails-after-exchange-config-check-online", saStoreFailsCheckOnline)
	t.Run("store-fails-after-exchange-plugin-killed", saStoreFailsPlugin)
	t.Run("store-fails-after-exchange-agent-holds", saStoreFailsAgent)
	t.Run("two-agents-one-file", saTwoAgents)
}

// saFixture is a simulator with one service account and a profiles file
// whose robot profile reads saFile.
type saFixture struct {
	sim    *Sim
	tk     *tkEnv
	saFile string
}

func newSAFixture(t *testing.T, saFile string) *saFixture {
	t.Helper()
	s := startSim(t, "vcd", "--service-account", vcdSAToken+":robot@ExampleOrg")
	return &saFixture{sim: s, saFile: saFile, tk: newTK(t, saConfig(s, saFile))}
}

func saConfig(s *Sim, saFile string) string {
	return "profiles:\n" + vcdProfile("robot", s, "    org: ExampleOrg\n    service_account: {file: "+saFile+"}\n")
}

// saDir is a fresh private directory holding the service-account file
// "robot" with the simulator's initial token.
func saDir(t *testing.T) (dir, file string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "secrets")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, vcdWriteSecret(t, dir, "robot", vcdSAToken)
}

// root runs a command that needs root (mount, chattr), skipping the test
// with the reason when this machine does not allow it; undo runs at
// cleanup, before the test's directories are removed.
func root(t *testing.T, undo []string, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Skipf("%s %s is not possible here: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	if len(undo) > 0 {
		t.Cleanup(func() {
			if out, err := exec.Command(undo[0], undo[1:]...).CombinedOutput(); err != nil {
				t.Errorf("cleanup %s: %v: %s", strings.Join(undo, " "), err, out)
			}
		})
	}
}

// exchange posts tok to the simulator's token endpoint as a client
// would and reports whether it was accepted (the simulator rotates it).
func (f *saFixture) exchange(t *testing.T, tok string) bool {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}.Encode()
	resp, err := f.sim.HTTP.Post(f.sim.URL+"/oauth/tenant/ExampleOrg/token", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// assertLive fails unless the token in path is one the simulator accepts.
func (f *saFixture) assertLive(t *testing.T, path, what string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !f.exchange(t, strings.TrimSpace(string(raw))) {
		t.Fatalf("%s holds a token the simulator no longer accepts: the service account is lost", what)
	}
}

// assertRefused: config check and get (with and without the agent)
// refuse the profile with exit 2 and advice, and the token is not spent.
func (f *saFixture) assertRefused(t *testing.T, cause, advice string) {
	t.Helper()
	for _, args := range [][]string{{"config", "check"}, {"get", "--profile", "robot", "--no-agent"}, {"get", "--profile", "robot"}} {
		r := f.tk.run(t, nil, args...)
		out := r.stdout + r.stderr
		if r.code != 2 || !strings.Contains(out, cause) || !strings.Contains(out, advice) {
			t.Errorf("%s: exit %d, want 2 naming %q and %q: %s", strings.Join(args, " "), r.code, cause, advice, out)
		}
	}
	if st := f.sim.Stats(t); st.Logins+st.LoginFailures != 0 {
		t.Errorf("the token was sent upstream although it could not be stored: %d exchanges, %d failed", st.Logins, st.LoginFailures)
	}
	vcdAssertClean(t, "output", f.tk.seen.String(), []string{vcdSAToken})
}

// saBindMount: the file is a single-file bind mount (docker -v
// host/robot:/run/secrets/robot), which rename cannot replace (EBUSY).
func saBindMount(t *testing.T) {
	_, mounted := saDir(t)
	host := vcdWriteSecret(t, t.TempDir(), "host-robot", vcdSAToken)
	root(t, []string{"umount", mounted}, "mount", "--bind", host, mounted)
	f := newSAFixture(t, mounted)
	f.assertRefused(t, "is a mount point", "mount the directory that holds it instead")
	f.assertLive(t, host, "the mounted file")
}

// saFullDisk: the file's filesystem is full (ENOSPC).
func saFullDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	root(t, []string{"umount", dir}, "mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir)
	file := vcdWriteSecret(t, dir, "robot", vcdSAToken)
	fillDisk(t, dir)
	f := newSAFixture(t, file)
	f.assertRefused(t, "is full", "free some space")
	f.assertLive(t, file, "the file")
}

// fillDisk writes a file in dir until its filesystem is full.
func fillDisk(t *testing.T, dir string) {
	t.Helper()
	fh, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	chunk := make([]byte, 4096)
	for range 1 << 16 {
		if _, err := fh.Write(chunk); err != nil {
			return
		}
	}
	t.Fatal("the filesystem never filled up")
}

// saImmutable: the file is immutable (chattr +i: EPERM).
func saImmutable(t *testing.T) {
	_, file := saDir(t)
	root(t, []string{"chattr", "-i", file}, "chattr", "+i", file)
	f := newSAFixture(t, file)
	f.assertRefused(t, "is immutable", "chattr -i")
	f.assertLive(t, file, "the file")
}

// exchangeThenBreak delays the simulator's token answer and makes the
// file immutable while the exchange is on the wire: the preflight passed,
// the server has rotated, and the store fails.
func (f *saFixture) exchangeThenBreak(t *testing.T, start func()) {
	t.Helper()
	f.sim.Fault(t, sim.Fault{Path: "/oauth/tenant/ExampleOrg/token", Delay: "1500ms", Count: 1})
	start()
	time.Sleep(500 * time.Millisecond)
	root(t, []string{"chattr", "-i", f.saFile}, "chattr", "+i", f.saFile)
}

// saStoreFailsOneShot: `get --no-agent` whose store fails after the
// exchange must exit: the rotated token is in a 0600 recovery file that
// its error names, later runs refuse to spend the dead token (no failed
// login, no guard), and the documented restore brings the profile back.
func saStoreFailsOneShot(t *testing.T) {
	_, file := saDir(t)
	f := newSAFixture(t, file)
	done := make(chan result, 1)
	f.exchangeThenBreak(t, func() {
		go func() { done <- f.tk.run(t, nil, "get", "--profile", "robot", "--no-agent", "--timeout", "10s") }()
	})
	r := <-done
	rec := file + ".recovery"
	if r.code == 0 || !strings.Contains(r.stderr, rec) || !strings.Contains(r.stderr, "cat ") {
		t.Fatalf("get --no-agent: exit %d, want a failure naming %s and how to restore it: %s", r.code, rec, r.stderr)
	}
	fi, err := os.Stat(rec)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("recovery file: %v (mode %v)", err, fi)
	}
	held, _ := os.ReadFile(rec)
	failures := f.sim.Stats(t).LoginFailures
	again := f.tk.run(t, nil, "get", "--profile", "robot", "--no-agent")
	if again.code != 2 || !strings.Contains(again.stderr, rec) {
		t.Fatalf("a run with the recovery file waiting: exit %d, want 2 naming it: %s", again.code, again.stderr)
	}
	if st := f.sim.Stats(t); st.LoginFailures != failures {
		t.Fatalf("the dead token was spent: %d failed exchanges", st.LoginFailures-failures)
	}
	// The restore the error prescribes: fix the cause, then cat + rm.
	if out, err := exec.Command("chattr", "-i", file).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
	restoreRecovery(t, rec, file)
	f.tk.get(t, "robot", "--no-agent")
	stored, _ := os.ReadFile(file)
	f.assertLive(t, file, "the restored file")
	vcdAssertClean(t, "output", f.tk.seen.String(), []string{vcdSAToken, strings.TrimSpace(string(held)), strings.TrimSpace(string(stored))})
}

// saStoreFailsCheckOnline: `config check --online` is a one-shot process
// too: its report names the recovery file, which holds the live token.
func saStoreFailsCheckOnline(t *testing.T) {
	_, file := saDir(t)
	f := newSAFixture(t, file)
	done := make(chan result, 1)
	f.exchangeThenBreak(t, func() {
		go func() { done <- f.tk.run(t, nil, "config", "check", "--online", "--timeout", "10s") }()
	})
	r := <-done
	rec := file + ".recovery"
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, rec) {
		t.Fatalf("config check --online: exit %d, want a failure naming %s: %s%s", r.code, rec, r.stdout, r.stderr)
	}
	if out, err := exec.Command("chattr", "-i", file).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
	f.assertLive(t, rec, "the recovery file")
	vcdAssertClean(t, "output", f.tk.seen.String()+r.stdout, []string{vcdSAToken})
}

// saStoreFailsPlugin: a go-plugin child whose host closes it while its
// store keeps failing after the exchange saves the rotated token to the
// recovery file before it exits.
func saStoreFailsPlugin(t *testing.T) {
	tokenkeeper, _ := binaries(t)
	_, file := saDir(t)
	f := newSAFixture(t, file)
	stderr := &testutil.SyncBuffer{}
	c, err := launch(t, host.LaunchOptions{Path: tokenkeeper, ConfigPath: f.tk.config, Stderr: stderr,
		Logger: hclog.New(&hclog.LoggerOptions{Output: stderr, Level: hclog.Trace, JSONFormat: true}),
		Env:    append(f.tk.env, "TOKENKEEPER_LOG_LEVEL=trace")})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	f.exchangeThenBreak(t, func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = c.Token(ctx, "robot", host.TokenOptions{})
		}()
	})
	time.Sleep(2 * time.Second) // the answer has arrived; the store is failing
	if err := c.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	rec := file + ".recovery"
	if _, err := os.Stat(rec); err != nil {
		t.Fatalf("the killed plugin left no recovery file: %v", err)
	}
	if out, err := exec.Command("chattr", "-i", file).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
	held, _ := os.ReadFile(rec)
	f.assertLive(t, rec, "the recovery file")
	vcdAssertClean(t, "plugin log", stderr.String(), []string{vcdSAToken, strings.TrimSpace(string(held))})
}

// saStoreFailsAgent: an agent whose store fails after the exchange holds
// the rotated token: `agent stop` does not make it exit while the token
// is unsaved, it says why in its log, and once the file can be written
// again it stores the token and exits.
func saStoreFailsAgent(t *testing.T) {
	_, file := saDir(t)
	f := newSAFixture(t, file)
	agent := f.tk.startAgent(t)
	done := make(chan result, 1)
	f.exchangeThenBreak(t, func() {
		go func() { done <- f.tk.run(t, nil, "get", "--profile", "robot", "--timeout", "10s") }()
	})
	if r := <-done; r.code == 0 || !strings.Contains(r.stderr, file+".recovery") {
		t.Fatalf("get: exit %d, want a failure naming the recovery file: %s", r.code, r.stderr)
	}
	if r := f.tk.run(t, nil, "agent", "stop", "--wait", "3s"); r.code == 0 {
		t.Fatalf("agent stop succeeded while the agent holds an unsaved token: %s", r.stderr)
	}
	if agent.exited() {
		t.Fatal("the agent exited holding the only valid service-account token")
	}
	if !strings.Contains(f.tk.seen.String(), "not exiting: holding a rotated token") {
		t.Fatal("the agent does not say why it stays")
	}
	if out, err := exec.Command("chattr", "-i", file).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
	select {
	case <-agent.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not store the token and exit once the file was writable")
	}
	if _, err := os.Stat(file + ".recovery"); !os.IsNotExist(err) {
		t.Fatalf("the recovery file outlived the store: %v", err)
	}
	held, _ := os.ReadFile(file)
	f.assertLive(t, file, "the file")
	vcdAssertClean(t, "agent log and output", f.tk.seen.String(), []string{vcdSAToken, strings.TrimSpace(string(held))})
}

// saTwoAgents: two agents (two profiles files) share one service-account
// file under parallel forced refreshes, raced by one-shot processes:
// every call succeeds, no exchange is rejected, no guard is armed, and the
// file ends live.
func saTwoAgents(t *testing.T) {
	_, file := saDir(t)
	f := newSAFixture(t, file)
	other := newTK(t, saConfig(f.sim, file))
	// 30 forced refreshes through the two agents, and 10 one-shot
	// processes racing them on the same file.
	const calls, oneShots = 30, 10
	var wg sync.WaitGroup
	codes := make(chan string, calls+oneShots)
	for i := range calls + oneShots {
		tk, args := f.tk, []string{"get", "--profile", "robot", "--force-refresh"}
		if i%2 == 1 {
			tk = other
		}
		if i >= calls {
			args = []string{"get", "--profile", "robot", "--no-agent"}
		}
		wg.Go(func() {
			r := tk.run(t, nil, args...)
			if r.code != 0 {
				codes <- fmt.Sprintf("%s: exit %d: %s", strings.Join(args, " "), r.code, strings.TrimSpace(r.stderr))
			}
		})
	}
	wg.Wait()
	close(codes)
	var failed []string
	for c := range codes {
		failed = append(failed, c)
	}
	st := f.sim.Stats(t)
	t.Logf("%d parallel forced refreshes through two agents and %d get --no-agent: %d failed; %d exchanges, %d rejected",
		calls, oneShots, len(failed), st.Logins, st.LoginFailures)
	if len(failed) != 0 || st.LoginFailures != 0 {
		t.Errorf("%d of %d calls failed, %d exchanges rejected; first: %v", len(failed), calls+oneShots, st.LoginFailures, failed[:min(len(failed), 1)])
	}
	for _, tk := range []*tkEnv{f.tk, other} {
		if r := tk.run(t, nil, "status"); strings.Contains(r.stdout, "rejected") {
			t.Errorf("an agent armed its lockout guard:\n%s", r.stdout)
		}
	}
	f.assertLive(t, file, "the file")
	vcdAssertClean(t, "output", f.tk.seen.String()+other.seen.String(), []string{vcdSAToken})
}
