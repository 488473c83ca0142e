package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// envOrphanHost makes the test binary a helper host (see TestMain): it
// launches the plugin named by envOrphanPlugin with the profiles file in
// envOrphanConfig, gets a token of profile sddc, says "ready" and waits to
// be killed.
const (
	envOrphanHost   = "TK_E2E_ORPHAN_HOST"
	envOrphanPlugin = "TK_E2E_ORPHAN_PLUGIN"
	envOrphanConfig = "TK_E2E_ORPHAN_CONFIG"
)

// runOrphanHost is the helper host's main.
func runOrphanHost() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := host.Launch(ctx, host.LaunchOptions{
		Path:       os.Getenv(envOrphanPlugin),
		ConfigPath: os.Getenv(envOrphanConfig),
		// Debug: the plugin logs while it shuts down, to a stderr pipe
		// whose reader is dead by then.
		Env: []string{"TOKENKEEPER_LOG_LEVEL=debug"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		return 1
	}
	if _, err := c.Token(ctx, "sddc", host.TokenOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		return 1
	}
	pids := childPIDs(os.Getenv(envOrphanPlugin))
	if len(pids) != 1 {
		fmt.Fprintf(os.Stderr, "found plugin children %v, want one\n", pids)
		return 1
	}
	fmt.Println("ready", pids[0])
	time.Sleep(time.Minute) // killed long before
	return 1
}

// TestPluginOrphanRevokes: a host that dies without closing the plugin
// (SIGKILL, a crash, an OOM kill) leaves an orphaned plugin; it must notice
// (its parent changes) and revoke what it holds, or the refresh token
// outlives every process that could use it.
func TestPluginOrphanRevokes(t *testing.T) {
	t.Parallel()
	tokenkeeper, _ := binaries(t)
	password := "canary-pw-" + randomHex(t)
	s := startSim(t, "vcf", "--user", "svc@vsphere.local="+password+":ADMIN")
	cfg := writeFile(t, "config.yaml", fmt.Sprintf(`profiles:
  sddc:
    provider: vcf
    url: %s
    ca_file: %s
    username: svc@vsphere.local
    password: {env: E2E_ORPHAN_PASSWORD}
`, s.URL, s.CAFile))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	helper := exec.CommandContext(ctx, self)
	helper.Env = append(os.Environ(), envOrphanHost+"=1", envOrphanPlugin+"="+tokenkeeper,
		envOrphanConfig+"="+cfg, "E2E_ORPHAN_PASSWORD="+password, "XDG_RUNTIME_DIR="+t.TempDir())
	stderr := &testutil.SyncBuffer{}
	helper.Stderr = stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	var pluginPID int
	if _, err := fmt.Sscanf(line, "ready %d", &pluginPID); err != nil {
		t.Fatalf("helper host: %q; stderr:\n%s", line, stderr.String())
	}
	// Should the plugin survive its host (the bug this test is for), do
	// not leave it running.
	t.Cleanup(func() {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pluginPID)); err == nil && runs(exe, tokenkeeper) {
			_ = syscall.Kill(pluginPID, syscall.SIGKILL)
		}
	})
	if st := s.Stats(t); st.ActiveSessions != 1 || st.Revocations != 0 {
		t.Fatalf("before the host dies: %+v", st)
	}

	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Stats(t)
		if st.Revocations == 1 && st.ActiveSessions == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the host was killed the orphaned plugin has not revoked: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
