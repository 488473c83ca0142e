package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	socks, _ := filepath.Glob(filepath.Join(tk.runtime, "tokenkeeper", "*.sock"))
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
