package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
)

// BenchmarkAgentRoundTrip measures, interleaved in one run against one
// warm agent, the round trip of one call from a running client: on the
// exec socket (agentconn.Call) and through gRPC as the full CLI makes it
// (host.Dial, one Token, Close); and the start of the smallest exec
// client binary (testdata/agentcall) against a static hello-world.
func BenchmarkAgentRoundTrip(b *testing.B) {
	s := startSim(b, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER")
	tk := newTK(b, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	tk.bin = measuredBinaries(b).front // as make build left it (static)
	tk.get(b, "sddc")
	sock := tk.execSocket(b)
	grpcSock := filepath.Join(filepath.Dir(sock), filepath.Base(sock[:len(sock)-len(".exec")])+".sock")
	const req = `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`
	hello, client := buildHello(b), buildAgentCall(b)
	ctx := context.Background()

	var execs, grpcs, hellos, clients []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := agentconn.Call(time.Now().Add(time.Minute), sock, []byte(req)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		c, err := host.Dial(ctx, grpcSock)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Token(ctx, "sddc", host.TokenOptions{}); err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
		t2 := time.Now()
		if err := exec.Command(hello).Run(); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if out, err := exec.Command(client, sock, req).Output(); err != nil || len(out) == 0 {
			b.Fatalf("agentcall: %v", err)
		}
		t4 := time.Now()
		execs, grpcs = append(execs, t1.Sub(t0)), append(grpcs, t2.Sub(t1))
		hellos, clients = append(hellos, t3.Sub(t2)), append(clients, t4.Sub(t3))
	}
	b.StopTimer()
	b.ReportMetric(float64(median(execs).Microseconds()), "exec-µs")
	b.ReportMetric(float64(median(grpcs).Microseconds()), "grpc-µs")
	b.ReportMetric(float64(median(hellos).Microseconds()), "hello-µs")
	b.ReportMetric(float64(median(clients).Microseconds()), "agentcall-µs")
	b.ReportMetric(float64(median(clients))/float64(median(hellos)), "agentcall/hello")
}

// buildAgentCall builds testdata/agentcall statically.
func buildAgentCall(b *testing.B) string {
	out := filepath.Join(b.TempDir(), "agentcall")
	cmd := exec.Command("go", "build", "-o", out, "./test/e2e/testdata/agentcall")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}
