package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The shape of an interleaved comparison (see compare): pairs per round
// and rounds. TK_BENCH_PAIRS and TK_BENCH_ROUNDS lower them for a quick
// check of the harness; the figures quoted in the docs use the defaults.
const (
	defaultPairs  = 100
	defaultRounds = 3
	// warmupPairs run before the measured ones and are not recorded: the
	// first starts of a binary fault its pages in from disk.
	warmupPairs = 3
	// compareTimeout bounds one whole comparison.
	compareTimeout = 20 * time.Minute
)

// measured names the tokenkeeper binaries a benchmark measures: those in
// $TOKENKEEPER_BIN (the make targets pass bin/ as `make build` left it),
// else in the repository's bin/. front is `tokenkeeper`, the command users
// and pipelines call; core is `tokenkeeper-core` beside it, the full CLI,
// or "" while there is none.
type measured struct {
	front, core string
}

// measuredBinaries finds the binaries to measure, failing b when there
// is no tokenkeeper; under -short it skips, like every e2e test.
func measuredBinaries(b *testing.B) measured {
	b.Helper()
	binaries(b)
	dir := os.Getenv("TOKENKEEPER_BIN")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		b.Fatal(err)
	}
	m := measured{front: filepath.Join(dir, "tokenkeeper")}
	if _, err := os.Stat(m.front); err != nil {
		b.Fatalf("no tokenkeeper to measure (%v): run `make build` or set TOKENKEEPER_BIN to its directory", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenkeeper-core")); err == nil {
		m.core = filepath.Join(dir, "tokenkeeper-core")
	}
	return m
}

// command is one program run of a comparison: path with args, in env,
// reading stdin (a file; "" reads nothing).
type command struct {
	name  string // for failure messages
	path  string
	args  []string
	env   []string
	stdin string
}

// timed runs c once (measure), failing b if the run failed: a ratio of
// failures would mean nothing.
func (c command) timed(b *testing.B) time.Duration {
	b.Helper()
	d, err := c.measure()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// measure runs c once, bounded by cmdTimeout, and returns the time from
// its start to its exit; a run that cannot start, exits non-zero or prints
// nothing on stdout is an error naming c.
func (c command) measure() (time.Duration, error) {
	out, d, err := c.run()
	if err == nil && out == "" {
		err = errors.New("exit 0 with nothing on stdout")
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", c.name, err)
	}
	return d, nil
}

// output runs c once, bounded by cmdTimeout, and returns its stdout; a
// non-zero exit is an error carrying its stderr.
func (c command) output() (string, error) {
	out, _, err := c.run()
	return out, err
}

// run runs c once, bounded by cmdTimeout, timing it from start to exit.
func (c command) run() (stdout string, took time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.path, c.args...)
	cmd.Env = c.env
	cmd.WaitDelay = waitDelay
	if c.stdin != "" {
		// A file is handed to the child as it is: no copying goroutine.
		f, err := os.Open(c.stdin)
		if err != nil {
			return "", 0, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err = cmd.Run()
	took = time.Since(t0)
	if err != nil {
		err = fmt.Errorf("%w; stderr:\n%s", err, errb.String())
	}
	return out.String(), took, err
}

// underSh is c run as `sh -c '"$@"' sh PATH ARGS…`: the shell a
// credential helper is usually called through, with no quoting to get wrong.
func (c command) underSh(b *testing.B) command {
	b.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		b.Fatal(err)
	}
	wrapped := c
	wrapped.name = "sh -c " + c.name
	wrapped.path = sh
	wrapped.args = append([]string{"-c", `"$@"`, "sh", c.path}, c.args...)
	return wrapped
}

// side is one half of a comparison: what it is called in the metrics
// and one run of it, returning the time the run took.
type side struct {
	name string
	run  func() time.Duration
}

// timedSide is a side that runs c.
func timedSide(b *testing.B, name string, c command) side {
	return side{name: name, run: func() time.Duration { return c.timed(b) }}
}

// comparison is what compare measured: the median of the per-pair ratios
// A/B and the medians of each side.
type comparison struct {
	ratio  float64
	a, b   time.Duration
	rounds []float64 // the median ratio of each round
}

// compare runs a and c in interleaved pairs, rounds × pairs of them, a
// first in even pairs and c first in odd ones, so that both meet the same
// machine and neither always runs in the other's wake. It reports the
// median of the per-pair ratios a/c (the figure: steady on a loaded
// machine, where a few slow starts move any mean), the median time of
// each side, each round's median ratio and the load average.
func compare(b *testing.B, a, c side) comparison {
	b.Helper()
	return compareShaped(b, defaultPairs, a, c)
}

// compareShaped is compare with defPairs pairs per round unless
// TK_BENCH_PAIRS says otherwise: sides that take microseconds (an RPC)
// need more pairs than program starts for a steady median.
func compareShaped(b *testing.B, defPairs int, a, c side) comparison {
	b.Helper()
	pairs, rounds := benchShape(b, defPairs)
	deadline := time.Now().Add(compareTimeout)
	for range warmupPairs {
		a.run()
		c.run()
	}
	var as, cs []time.Duration
	var ratios []float64
	res := comparison{}
	for r := range rounds {
		var round []float64
		for i := range pairs {
			var da, dc time.Duration
			if i%2 == 0 {
				da, dc = a.run(), c.run()
			} else {
				dc, da = c.run(), a.run()
			}
			as, cs = append(as, da), append(cs, dc)
			round = append(round, float64(da)/float64(dc))
			if time.Now().After(deadline) {
				b.Fatalf("%s vs %s: not done after %s (round %d, pair %d)", a.name, c.name, compareTimeout, r+1, i+1)
			}
		}
		ratios = append(ratios, round...)
		res.rounds = append(res.rounds, median(round))
	}
	res.ratio, res.a, res.b = median(ratios), median(as), median(cs)
	b.ReportMetric(res.ratio, a.name+"/"+c.name)
	b.ReportMetric(micro(res.a), a.name+"-µs")
	b.ReportMetric(micro(res.b), c.name+"-µs")
	b.ReportMetric(loadAverage(b), "load1")
	b.Logf("%s/%s: %d pairs × %d rounds, round medians %s", a.name, c.name, pairs, rounds, formatRatios(res.rounds))
	return res
}

// benchShape reads TK_BENCH_PAIRS and TK_BENCH_ROUNDS (positive
// integers), defaulting to defPairs and defaultRounds.
func benchShape(b *testing.B, defPairs int) (pairs, rounds int) {
	b.Helper()
	get := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	return get("TK_BENCH_PAIRS", defPairs), get("TK_BENCH_ROUNDS", defaultRounds)
}

func formatRatios(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(s, " ")
}

// figure logs one headline figure against its target (an upper bound) on
// a line starting with FIGURE, which `make bench-front` collects into its
// closing summary. Benchmarks report; they never fail on a figure.
func figure(b *testing.B, what string, value float64, unit string, target float64) {
	b.Helper()
	b.Log(figureLine(what, value, unit, target, verdict(value, target), loadAverage(b)))
}

// figureWithout logs a figure that has no baseline to be compared with
// (why: "one binary"): its value, and n/a for a verdict.
func figureWithout(b *testing.B, what string, value float64, unit string, target float64, why string) {
	b.Helper()
	b.Log(figureLine(what, value, unit, target, "n/a ("+why+")", loadAverage(b)))
}

// verdict says whether value meets target, as printed: 1.004× meets ≤ 1×.
func verdict(value, target float64) string {
	if math.Round(value*100)/100 > target {
		return "NOT MET"
	}
	return "met"
}

func figureLine(what string, value float64, unit string, target float64, verdict string, load float64) string {
	return fmt.Sprintf("FIGURE %-58s %7.2f%-4s target ≤ %g%s: %s (load %.2f)", what, value, unit, target, unit, verdict, load)
}

// stopAgent ends tk's one agent by PID (SIGTERM, then SIGKILL after
// stopTimeout) and waits until it is gone, so that the next get finds no
// agent: the cold path.
func stopAgent(b *testing.B, tk *tkEnv) {
	b.Helper()
	pid := oneAgent(b, tk)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(pid, stopTimeout) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid, stopTimeout)
		b.Fatalf("agent %d did not exit within %s of SIGTERM: killed", pid, stopTimeout)
	}
}

// oneAgent is the PID of the agent answering on tk's sockets, failing b
// unless there is exactly one (which may serve on more than one socket).
func oneAgent(b *testing.B, tk *tkEnv) int {
	b.Helper()
	pids := tk.socketPIDs(b)
	slices.Sort(pids)
	if pids = slices.Compact(pids); len(pids) != 1 {
		b.Fatalf("want one agent, found %v", pids)
	}
	return pids[0]
}

// waitGone polls, for at most d, until process pid has exited.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !pidGone(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// describe names a binary for the output: its path and size.
func describe(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return path
	}
	return fmt.Sprintf("%s (%.1f MiB)", path, float64(fi.Size())/(1<<20))
}
