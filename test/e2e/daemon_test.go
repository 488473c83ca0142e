package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// TestAgentDetachesLikeADaemon (issue 10 case 6): the agent `get` starts
// in the background leaves the caller's working directory, dumps no core,
// is not dumpable (its /proc environ, which holds {env:} secrets, is
// unreadable to the user's other processes), does not inherit
// GOTRACEBACK, and its {command:} helpers do not see the values of the
// {env:} secrets of the other profiles.
func TestAgentDetachesLikeADaemon(t *testing.T) {
	pwA, pwB := "pw-a-"+randomHex(t), "pw-b-"+randomHex(t)
	s := startSim(t, "vcf", "--user", "a@vsphere.local="+pwA+":VIEWER", "--user", "b@vsphere.local="+pwB+":VIEWER")
	dump := filepath.Join(t.TempDir(), "helper.env")
	cfg := fmt.Sprintf(`profiles:
  a:
    provider: vcf
    url: %[1]s
    ca_file: %[2]s
    username: a@vsphere.local
    password: {env: TK_A_PW}
  b:
    provider: vcf
    url: %[1]s
    ca_file: %[2]s
    username: b@vsphere.local
    password: {command: [/bin/sh, -c, 'env > %[3]s; printf %%s %[4]s']}
`, s.URL, s.CAFile, dump, pwB)
	tk := newTK(t, cfg, "TK_A_PW="+pwA, "GOTRACEBACK=crash", "VAULT_ADDR=https://vault.example:8200")
	allowCores(t) // the caller allows cores: the agent must not inherit that
	tk.get(t, "b")
	pids := tk.socketPIDs(t)
	if len(pids) != 1 {
		t.Fatalf("agents %v, want one", pids)
	}
	pid := strconv.Itoa(pids[0])

	if limits, err := os.ReadFile("/proc/" + pid + "/limits"); err != nil || !coreLimitZero(string(limits)) {
		t.Errorf("the agent may dump core: %v\n%s", err, limits)
	}
	if cwd, err := os.Readlink("/proc/" + pid + "/cwd"); os.Getuid() == 0 && (err != nil || cwd != "/") {
		t.Errorf("the agent's working directory is %q (%v), want / (the caller was in %s)", cwd, err, tk.dir)
	}
	if os.Getuid() == 0 {
		env, err := os.ReadFile("/proc/" + pid + "/environ")
		if err != nil || !bytes.Contains(env, []byte("\x00GOTRACEBACK=single\x00")) || bytes.Contains(env, []byte("GOTRACEBACK=crash")) {
			t.Errorf("the agent's GOTRACEBACK is not \"single\" (%v)", err)
		}
	}

	helper, err := os.ReadFile(dump)
	if err != nil {
		t.Fatalf("the helper did not run: %v", err)
	}
	if bytes.Contains(helper, []byte(pwA)) {
		t.Error("the {command:} helper of profile b saw profile a's {env:} password")
	}
	for _, kv := range []string{"VAULT_ADDR=https://vault.example:8200", "HOME=" + tk.dir, "PATH="} {
		if !bytes.Contains(helper, []byte(kv)) {
			t.Errorf("the helper's environment lacks %s", kv)
		}
	}
	_ = tk.get(t, "a") // the {env:} secret itself still resolves
}

// allowCores raises this process's soft core-size limit (inherited by
// the processes it starts) for the rest of the test.
func allowCores(t *testing.T) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &old); err != nil || old.Max == 0 {
		t.Skipf("cannot allow core dumps here (hard limit 0 or %v): the check would prove nothing", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: min(old.Max, 1<<30), Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_CORE, &old) })
}

// coreLimitZero reports whether /proc/<pid>/limits has a soft core limit of 0.
func coreLimitZero(limits string) bool {
	for _, line := range strings.Split(limits, "\n") {
		if rest, ok := strings.CutPrefix(line, "Max core file size"); ok {
			f := strings.Fields(rest)
			return len(f) > 0 && f[0] == "0"
		}
	}
	return false
}

// TestAgentIsNotDumpable: the agent turns PR_SET_DUMPABLE off, so its
// /proc files (environ holds the {env:} secrets, mem all of them) belong
// to root and the user's other processes cannot read them. The agent runs
// as a user other than root — as root, uid 65534 — since root's files are
// root's either way.
func TestAgentIsNotDumpable(t *testing.T) {
	tokenkeeper, _ := binaries(t)
	uid := os.Getuid()
	if uid == 0 {
		uid = 65534
		if err := os.Chmod(bin.dir, 0o755); err != nil { // let uid 65534 run the binary
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp("", "tkn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("profiles:\n  p:\n    provider: vcf\n    url: https://127.0.0.1:1\n"+
		"    username: u\n    password: {env: TK_PW}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, cfg, filepath.Join(dir, "run")} {
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tokenkeeper, "agent")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"TMPDIR=" + dir, "TOKENKEEPER_CONFIG=" + cfg, "TK_PW=secret-" + randomHex(t)}
	cmd.Dir = dir
	if uid != os.Getuid() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	p := startProc(t, cmd)
	deadline := time.Now().Add(readyTimeout)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "run", "tokenkeeper", "*.sock")); len(m) > 0 {
			break
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("the agent did not start (exited: %v):\n%s", p.exited(), out.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/environ", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if owner := fi.Sys().(*syscall.Stat_t).Uid; owner != 0 {
		t.Errorf("the agent's /proc/<pid>/environ belongs to uid %d, its own: it is dumpable, so every process of that user can read its secrets", owner)
	}
}

// socketPIDs lists the agents answering on tk's runtime directory, by
// their sockets' peer credentials (works whatever /proc lets us read).
func (tk *tkEnv) socketPIDs(t testing.TB) []int {
	t.Helper()
	socks, _ := filepath.Glob(filepath.Join(tk.runtime, "tokenkeeper", paths.AgentPrefix+"*.sock")) // not a proxy's
	var pids []int
	for _, s := range socks {
		c, err := net.DialTimeout("unix", s, time.Second)
		if err != nil {
			continue
		}
		_, pid, err := paths.PeerCred(c)
		_ = c.Close()
		if err == nil && !pidGone(int(pid)) {
			pids = append(pids, int(pid))
		}
	}
	return pids
}

// TestAgentsDoNotPileUp is the newcomer session of issue 11 item 5 with
// shortened timings: a wrong port, a bad CA, a bad DNS name and three
// values of an {env:} password each start an agent. The agents nobody got
// a token from exit after the unused timeout (TOKENKEEPER_TEST_UNUSED_TIMEOUT,
// 1 min by default), the one that served after its idle timeout; their logs
// say why their callers failed; the next agent to start removes the logs
// and locks of the dead ones, leaving one log per live agent; and
// `agent stop --all` stops every agent of the user.
func TestAgentsDoNotPileUp(t *testing.T) {
	const unused, idle = 2 * time.Second, 10 * time.Second
	pw := "right-" + randomHex(t)
	s := startSim(t, "vcf", "--user", "svc@vsphere.local="+pw+":VIEWER")
	other := startSim(t, "vcf") // its CA did not sign s's certificate
	closed := closedPort(t)     // host:port
	// Only the good configuration shortens the idle timeout: the bad
	// ones keep the default 15 minutes, so only the unused timeout can
	// end their agents in time.
	profile := func(url, ca, password string) string {
		agent := ""
		if url == s.URL && ca == s.CAFile {
			agent = fmt.Sprintf("agent: {idle_timeout: %s}\n", idle)
		}
		return fmt.Sprintf("%sprofiles:\n  sddc:\n    provider: vcf\n    url: %s\n    ca_file: %s\n"+
			"    username: svc@vsphere.local\n    password: %s\n", agent, url, ca, password)
	}
	tk := newTK(t, profile(s.URL, s.CAFile, "{env: TK_PW}"), "TOKENKEEPER_TEST_UNUSED_TIMEOUT="+unused.String())
	bad := map[string]string{
		"wrong-port": profile("https://"+closed, s.CAFile, "{env: TK_PW}"),
		"bad-ca":     profile(s.URL, other.CAFile, "{env: TK_PW}"),
		"bad-dns":    profile("https://tokenkeeper-e2e.invalid", s.CAFile, "{env: TK_PW}"),
	}
	for _, name := range []string{"wrong-port", "bad-ca", "bad-dns"} {
		path := filepath.Join(tk.dir, name+".yaml")
		if err := os.WriteFile(path, []byte(bad[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := tk.runEnv(t, []string{"TK_PW=" + pw}, "get", "--config", path, "--profile", "sddc", "--timeout", "3s"); r.code == 0 {
			t.Fatalf("get with %s succeeded", name)
		}
		if name != "wrong-port" {
			continue
		}
		// Read now: the next agent to start removes the log of a dead one.
		if log := agentLog(t, tk, path); !strings.Contains(log, "upstream call failed") || !strings.Contains(log, "attempt=") ||
			!strings.Contains(log, "connection refused") {
			t.Errorf("the wrong-port agent's log does not record the failures:\n%s", log)
		}
	}
	// Three values of TK_PW: a wrong one, none (unset), the right one.
	// One wrong login only: the guard's ceiling allows 2 per account.
	for _, v := range [][]string{{"TK_PW=wrong-1"}, {"TK_PW_UNSET=1"}} {
		saved := tk.env
		tk.env = slices.DeleteFunc(slices.Clone(tk.env), func(kv string) bool { return strings.HasPrefix(kv, "TK_PW=") })
		r := tk.runEnv(t, v, "get", "--profile", "sddc", "--timeout", "3s")
		tk.env = saved
		if r.code == 0 {
			t.Fatalf("get with %v succeeded", v)
		}
	}
	lastFailure := time.Now()
	if r := tk.runEnv(t, []string{"TK_PW=" + pw}, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get with the right password: exit %d: %s", r.code, r.stderr)
	}
	served := time.Now()

	waitAgents(t, tk, 1, unused+8*time.Second)
	if gone := time.Since(lastFailure); gone > unused+8*time.Second {
		t.Errorf("unused agents took %s to exit", gone)
	}
	if time.Since(served) < idle-2*time.Second && len(tk.socketPIDs(t)) != 1 {
		t.Error("the agent that handed out a token exited before its idle timeout")
	}
	waitAgents(t, tk, 0, idle+10*time.Second)
	if gone := time.Since(served); gone > idle+10*time.Second {
		t.Errorf("the agent that served took %s to exit after its last use", gone)
	}

	// The next agent cleans up after the dead ones.
	if r := tk.runEnv(t, []string{"TK_PW=" + pw}, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get: exit %d: %s", r.code, r.stderr)
	}
	if logs, live := tk.files(t, ".log"), tk.socketPIDs(t); len(logs) > len(live) || len(live) != 1 {
		t.Errorf("logs %v for live agents %v: want at most one per live agent", logs, live)
	}
	var agentLocks []string
	for _, l := range tk.files(t, ".lock") {
		if strings.HasPrefix(l, paths.AgentPrefix) {
			agentLocks = append(agentLocks, l)
		}
	}
	if len(agentLocks) > 2 {
		t.Errorf("locks left by dead agents: %v, want only the live agent's run and spawn locks", agentLocks)
	}

	// agent stop --all reaches the agents of every configuration file.
	second := filepath.Join(tk.dir, "second.yaml")
	if err := os.WriteFile(second, []byte(profile(s.URL, s.CAFile, "{env: TK_PW}")), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := tk.runEnv(t, []string{"TK_PW=" + pw}, "get", "--config", second, "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get: exit %d: %s", r.code, r.stderr)
	}
	if n := len(tk.socketPIDs(t)); n != 2 {
		t.Fatalf("%d agents, want 2", n)
	}
	if r := tk.run(t, nil, "agent", "stop", "--all"); r.code != 0 || strings.Count(r.stderr, "stopped") != 2 {
		t.Fatalf("agent stop --all: exit %d: %s", r.code, r.stderr)
	}
	if pids := tk.socketPIDs(t); len(pids) != 0 {
		t.Fatalf("agents %v still running after agent stop --all", pids)
	}
}

// runEnv is run with extra variables in the environment.
func (tk *tkEnv) runEnv(t *testing.T, extra []string, args ...string) result {
	t.Helper()
	saved := tk.env
	tk.env = append(append([]string(nil), tk.env...), extra...)
	defer func() { tk.env = saved }()
	return tk.run(t, nil, args...)
}

// files lists the names in tk's runtime directory containing suffix.
func (tk *tkEnv) files(t *testing.T, suffix string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(tk.runtime, "tokenkeeper"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.Contains(e.Name(), suffix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// waitAgents waits, at most limit, until n agents of tk are left.
func waitAgents(t *testing.T, tk *tkEnv, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		pids := tk.socketPIDs(t)
		if len(pids) <= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents %v still running after %s, want %d", pids, limit, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// agentLog is the log of the untagged-or-only agent of configPath.
func agentLog(t *testing.T, tk *tkEnv, configPath string) string {
	t.Helper()
	d, err := paths.OpenDir(filepath.Join(tk.runtime, "tokenkeeper"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, err := paths.Locate(d, configPath, "")
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(strings.TrimSuffix(p.Log, ".log") + "*.log")
	var all strings.Builder
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		all.Write(b)
	}
	return all.String()
}

// TestForeignRuntimeDirUntouched is issue 10 case 5 through the real
// binary: root with another user's XDG_RUNTIME_DIR (uid 65534, as after
// `su` without `-`), in which that user planted a runtime directory of
// symlinks to files elsewhere. Every verb that touches state refuses the
// directory or works without it; nothing there or where the links point is
// created or changed.
func TestForeignRuntimeDirUntouched(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the runtime directory must belong to a second uid (65534)")
	}
	for _, planted := range []bool{false, true} {
		t.Run(map[bool]string{false: "empty", true: "planted links"}[planted], func(t *testing.T) {
			foreignRuntimeDir(t, planted)
		})
	}
}

func foreignRuntimeDir(t *testing.T, planted bool) {
	s := startSim(t, "vcf", "--user", "svc@vsphere.local=right-pw:VIEWER")
	tk := newTK(t, vcfConfig(s, "svc@vsphere.local", "{env: TK_PW}"), "TK_PW=wrong-pw")
	outside := filepath.Join(tk.dir, "outside")
	foreign := filepath.Join(tk.dir, "foreign")
	leaf := filepath.Join(foreign, "tokenkeeper")
	for _, d := range []string{outside, foreign} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("root's file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if planted {
		plantLinks(t, leaf, victim)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, tk.dir)
	saved := tk.env
	tk.env = append(append([]string(nil), saved...), "XDG_RUNTIME_DIR="+foreign)
	defer func() { tk.env = saved }()
	for _, args := range [][]string{
		{"get", "--profile", "sddc", "--timeout", "5s"},
		{"get", "--no-agent", "--profile", "sddc", "--timeout", "5s"},
		{"status"},
		{"config", "check", "--online"},
		{"agent", "stop", "--all"},
	} {
		r := tk.run(t, nil, args...)
		if args[0] == "get" && args[1] != "--no-agent" && (r.code == 0 || !strings.Contains(r.stderr, "refusing XDG_RUNTIME_DIR")) {
			t.Errorf("%v: exit %d, want a refusal of the foreign XDG_RUNTIME_DIR: %s", args, r.code, r.stderr)
		}
	}
	after := snapshotTree(t, tk.dir)
	for p, d := range after {
		if strings.HasPrefix(p, filepath.Join(tk.dir, "run")) {
			continue // tk's own private runtime dir, unused here
		}
		if before[p] != d {
			t.Errorf("%s created or changed: %q -> %q", p, before[p], d)
		}
	}
}

// plantLinks makes leaf, uid 65534's, full of links to victim at the
// names of state files.
func plantLinks(t *testing.T, leaf, victim string) {
	t.Helper()
	if err := os.Mkdir(leaf, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"guard.json", "guard.key", "guard.lock", "agent.key"} {
		if err := os.Symlink(victim, filepath.Join(leaf, n)); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(filepath.Join(leaf, n), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(leaf, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

// snapshotTree maps every path under root (but the config file, which
// the verbs read) to its mode, size and modification time.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
