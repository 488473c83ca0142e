package e2e

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkProxy measures GET /v1/domains of `tokenkeeper-sim vcf`
// through `tokenkeeper proxy` (its unix socket, a warm agent) and, in the
// same run and interleaved, straight to the simulator with a static token
// from `tokenkeeper get` over a kept-alive TLS connection. It reports the
// requests per second of each (one client, sequential), the latency the
// proxy adds at p50 and p99 (target: p50 ≤ 1 ms on loopback), and the
// one-minute load average the figures were taken under.
func BenchmarkProxy(b *testing.B) {
	s := startSim(b, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER")
	tk := newTK(b, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	rp := tk.startProxy(b, "--profile", "sddc", "--log-level", "warn")
	tok := tk.get(b, "sddc")
	direct, proxied := s.HTTP, rp.client()
	send := func(c *http.Client, url string, h *header) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if h != nil {
			req.Header.Set(h.Name, h.Value)
		}
		t0 := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		return d
	}
	for range 20 { // warm both paths: connections, the agent's cache
		send(direct, s.URL+"/v1/domains", &tok.Header)
		send(proxied, rp.URL+"/v1/domains", nil)
	}
	var ds, ps []time.Duration
	b.ResetTimer()
	for b.Loop() {
		ds = append(ds, send(direct, s.URL+"/v1/domains", &tok.Header))
		ps = append(ps, send(proxied, rp.URL+"/v1/domains", nil))
	}
	b.StopTimer()
	report := func(name string, v float64) { b.ReportMetric(v, name) }
	report("direct-rps", float64(time.Second)/float64(mean(ds)))
	report("proxy-rps", float64(time.Second)/float64(mean(ps)))
	report("direct-p50-µs", micro(percentile(ds, 50)))
	report("proxy-p50-µs", micro(percentile(ps, 50)))
	report("added-p50-µs", micro(percentile(ps, 50)-percentile(ds, 50)))
	report("added-p99-µs", micro(percentile(ps, 99)-percentile(ds, 99)))
	report("load1", loadAverage(b))
}

// percentile is the p-th percentile of d (nearest rank).
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func micro(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// loadAverage is the one-minute load average of the machine.
func loadAverage(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	v, _ := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	return v
}
