package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkExecGetWarmAgent measures `tokenkeeper get` against a warm agent
// and, in the same run, the start of a minimal Go binary; it reports the
// ratio (target ≤ 2) and the agent's resident memory idle with 10 profiles
// holding tokens (target ≤ 20 MiB).
func BenchmarkExecGetWarmAgent(b *testing.B) {
	s := startSim(b, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER")
	var cfg strings.Builder
	cfg.WriteString("profiles:\n")
	for i := range 10 {
		fmt.Fprintf(&cfg, "  p%d:\n    provider: vcf\n    url: %s\n    ca_file: %s\n    username: %s\n    password: {env: TK_E2E_PW}\n",
			i, s.URL, s.CAFile, e2eUser)
	}
	tk := newTK(b, cfg.String(), pwEnv)
	// Measure the binary as it should ship: static, no dynamic loader or
	// libc mapped at each start and in the agent (about 1 ms and 1.5 MiB).
	tk.bin = buildStatic(b)
	for i := range 10 {
		if r := tk.run(b, nil, "get", "--profile", "p"+strconv.Itoa(i)); r.code != 0 {
			b.Fatalf("get p%d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	hello := buildHello(b)

	var gets, hellos []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := exec.Command(hello).Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if r := tk.run(b, nil, "get", "--profile", "p0"); r.code != 0 {
			b.Fatalf("get: exit %d: %s", r.code, r.stderr)
		}
		hellos = append(hellos, t1.Sub(t0))
		gets = append(gets, time.Since(t1))
	}
	b.StopTimer()
	getMean, helloMean := mean(gets), mean(hellos)
	b.ReportMetric(float64(getMean.Microseconds()), "get-µs/op")
	b.ReportMetric(float64(helloMean.Microseconds()), "hello-µs/op")
	b.ReportMetric(float64(getMean)/float64(helloMean), "get/hello")
	// On a loaded machine a few slow starts move the means; the medians
	// of the same interleaved runs are the steadier figure.
	b.ReportMetric(float64(median(gets))/float64(median(hellos)), "get/hello-median")

	pids := tk.agentPIDs(b)
	if len(pids) != 1 {
		b.Fatalf("agents: %v", pids)
	}
	// Sample after the agent has been quiet long enough to hand freed heap
	// back (agent.Options.TrimAfter, 5 s): the idle figure users see.
	time.Sleep(7 * time.Second)
	b.ReportMetric(float64(vmRSS(b, pids[0]))/(1<<20), "agent-RSS-MiB")
	if st := s.Stats(b); st.Logins != 10 {
		b.Errorf("%d logins for 10 profiles", st.Logins)
	}
}

// mean is the average of d.
func mean(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(max(len(d), 1))
}

// median is the middle of d, sorted.
func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// buildStatic builds tokenkeeper (and tokenkeeper-core beside it) with
// CGO_ENABLED=0 into a temp dir, with
// the extra `go build` flags of $TK_BENCH_GOFLAGS (see benchGoFlags), so
// that candidate release build flags can be measured.
func buildStatic(b *testing.B) string {
	dir := b.TempDir()
	out := filepath.Join(dir, "tokenkeeper")
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, benchGoFlags()...)
	cmd := exec.Command("go", append(args, "./cmd/tokenkeeper", "./cmd/tokenkeeper-core")...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// benchGoFlags splits $TK_BENCH_GOFLAGS on "|" when present, for flags
// holding spaces ("-tags=grpcnotrace|-ldflags=-s -w", or "-ldflags=-s -w|"
// alone), else on spaces ("-tags=grpcnotrace -trimpath").
func benchGoFlags() []string {
	v := strings.TrimSpace(os.Getenv("TK_BENCH_GOFLAGS"))
	switch {
	case v == "":
		return nil
	case strings.Contains(v, "|"):
		var out []string
		for _, f := range strings.Split(v, "|") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	default:
		return strings.Fields(v)
	}
}

// buildHello builds the smallest Go program that starts and exits.
func buildHello(b *testing.B) string {
	dir := b.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build hello: %v\n%s", err, out)
	}
	return bin
}

// vmRSS reads the resident set size of pid in bytes.
func vmRSS(b *testing.B, pid int) int64 { return procMemory(b, pid, "VmRSS") }
