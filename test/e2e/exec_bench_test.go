package e2e

import (
	"cmp"
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

// BenchmarkAgentRSS measures the resident memory of the measured
// tokenkeeper's agent (measuredBinaries) idle with 10 profiles holding
// tokens. Target ≤ 20 MiB.
func BenchmarkAgentRSS(b *testing.B) {
	m := measuredBinaries(b)
	s := startSim(b, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER")
	var cfg strings.Builder
	cfg.WriteString("profiles:\n")
	for i := range 10 {
		fmt.Fprintf(&cfg, "  p%d:\n    provider: vcf\n    url: %s\n    ca_file: %s\n    username: %s\n    password: {env: TK_E2E_PW}\n",
			i, s.URL, s.CAFile, e2eUser)
	}
	tk := newTK(b, cfg.String(), pwEnv)
	tk.bin = m.front
	b.Logf("measured: %s", describe(m.front))
	for i := range 10 {
		tk.get(b, "p"+strconv.Itoa(i))
	}
	pid := oneAgent(b, tk)
	// Sample after the agent has been quiet long enough to hand freed heap
	// back (agent.Options.TrimAfter, 5 s): the idle figure users see.
	time.Sleep(7 * time.Second)
	mib := float64(vmRSS(b, pid)) / (1 << 20)
	b.ReportMetric(mib, "agent-RSS-MiB")
	figure(b, "agent RSS idle with 10 profiles", mib, "MiB", 20)
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

// median is the middle of v, sorted (the upper middle of an even count;
// zero for none).
func median[T cmp.Ordered](v []T) T {
	if len(v) == 0 {
		var zero T
		return zero
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// buildHello builds a static Go hello-world (CGO_ENABLED=0, a main that
// prints one line): the floor of any Go program's start.
func buildHello(b *testing.B) string {
	dir := b.TempDir()
	src := filepath.Join(dir, "main.go")
	code := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello, world\") }\n"
	if err := os.WriteFile(src, []byte(code), 0o600); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GO111MODULE=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build hello: %v\n%s", err, out)
	}
	return bin
}

// vmRSS reads the resident set size of pid in bytes.
func vmRSS(b *testing.B, pid int) int64 { return procMemory(b, pid, "VmRSS") }
