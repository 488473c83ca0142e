package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// pluginPairs is the default pairs per round of the plugin comparison: a
// side is one RPC (about 0.2 ms), so the shape holds more pairs than the
// program starts' 100.
const pluginPairs = 2000

// BenchmarkPluginGetToken measures a warm GetToken through the real plugin
// process against an empty gRPC round trip (the health check go-plugin
// serves) on the same connection, one interleaved run (compare: the order
// swapped every pair, the figure the median of the per-pair ratios).
// Target: ratio ≤ 1.3. Run it with -benchtime 1x, as the others. It
// launches the measured tokenkeeper (measuredBinaries), as a Go host
// launches the one users install.
func BenchmarkPluginGetToken(b *testing.B) {
	tokenkeeper := measuredBinaries(b).front
	password := "bench-pw-0123456789"
	s := startSim(b, "vcf", "--user", "bench@vsphere.local="+password+":VIEWER")
	cfg := writeFile(b, "config.yaml", fmt.Sprintf(`profiles:
  sddc:
    provider: vcf
    url: %s
    ca_file: %s
    username: bench@vsphere.local
    password: {env: BENCH_VCF_PASSWORD}
`, s.URL, s.CAFile))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := launch(b, host.LaunchOptions{
		Path: tokenkeeper, ConfigPath: cfg, Env: []string{"BENCH_VCF_PASSWORD=" + password},
		Logger: hclog.NewNullLogger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	health := grpc_health_v1.NewHealthClient(c.Conn())
	check := &grpc_health_v1.HealthCheckRequest{Service: "plugin"}
	if _, err := c.Token(ctx, "sddc", host.TokenOptions{}); err != nil { // warm: log in once
		b.Fatal(err)
	}
	rpc := func(name string, call func() error) side {
		return side{name: name, run: func() time.Duration {
			t0 := time.Now()
			if err := call(); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			return time.Since(t0)
		}}
	}
	token := rpc("GetToken", func() error { _, err := c.Token(ctx, "sddc", host.TokenOptions{}); return err })
	empty := rpc("empty-rpc", func() error { _, err := health.Check(ctx, check); return err })
	r := compareShaped(b, pluginPairs, token, empty)
	figure(b, "plugin-mode GetToken / empty gRPC round trip", r.ratio, "×", 1.3)
	if st := s.Stats(b); st.Logins != 1 {
		b.Errorf("warm GetToken went upstream: %+v", st)
	}
}
