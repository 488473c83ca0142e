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

// BenchmarkPluginGetToken measures a warm GetToken through the real plugin
// process against an empty gRPC round trip (the health check go-plugin
// serves) on the same connection, interleaved so that both see the same
// machine, and reports their ratio. Target: ratio ≤ 1.3. It launches the
// measured tokenkeeper (measuredBinaries), as a Go host launches the one
// users install.
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

	var tokenTime, emptyTime time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := health.Check(ctx, check); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := c.Token(ctx, "sddc", host.TokenOptions{}); err != nil {
			b.Fatal(err)
		}
		tokenTime += time.Since(t1)
		emptyTime += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(tokenTime.Microseconds())/float64(n), "µs/GetToken")
	b.ReportMetric(float64(emptyTime.Microseconds())/float64(n), "µs/empty-rpc")
	b.ReportMetric(float64(tokenTime)/float64(emptyTime), "ratio")
	figure(b, "plugin-mode GetToken / empty gRPC round trip", float64(tokenTime)/float64(emptyTime), "×", 1.3)
	if st := s.Stats(b); st.Logins != 1 {
		b.Errorf("warm GetToken went upstream: %+v", st)
	}
}
