package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// The benchmarks of the exec path (issue 16): `tokenkeeper get` against
// its peers, each one interleaved run (compare) whose figure is the median
// of the per-pair ratios. `make bench-front` runs them with the binaries of
// bin/ and the pinned kubelogin, and prints their figures with the targets:
//
//	warm get / static Go hello-world             ≤ 1.6
//	warm get / git credential-cache get (sh -c)  ≤ 1.2
//	warm get / kubelogin get-token (cached)      ≤ 0.6
//	cold get / the full binary's cold get        ≤ 1

// warmGet starts a simulator and an isolated user of the measured
// `tokenkeeper`, gets a token once (which starts the agent and logs in)
// and returns the warm `tokenkeeper get` command; when b ends it checks
// that no get went upstream again.
func warmGet(b *testing.B) (*tkEnv, command) {
	b.Helper()
	m := measuredBinaries(b)
	s := startSim(b, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER")
	tk := newTK(b, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	tk.bin = m.front
	tk.get(b, "sddc")
	b.Logf("measured: %s", describe(m.front))
	b.Cleanup(func() {
		if st := s.Stats(b); st.Logins != 1 {
			b.Errorf("%d logins: a warm get went upstream", st.Logins)
		}
	})
	return tk, command{name: "tokenkeeper get", path: tk.bin, env: tk.env, args: []string{"get", "--profile", "sddc"}}
}

// BenchmarkFrontWarmHello: warm `tokenkeeper get` vs a static Go
// hello-world (CGO_ENABLED=0, prints one line), the floor of any Go
// program's start. Target ≤ 1.6.
func BenchmarkFrontWarmHello(b *testing.B) {
	tk, get := warmGet(b)
	hello := command{name: "hello", path: buildHello(b), env: tk.env}
	r := compare(b, timedSide(b, "get", get), timedSide(b, "hello", hello))
	figure(b, "warm get / static Go hello-world", r.ratio, "×", 1.6)
}

// BenchmarkFrontWarmGitCache: warm `tokenkeeper get` vs `git
// credential-cache get` (a C client asking a memory-only daemon on a unix
// socket: the same architecture as tokenkeeper's agent), both under
// `sh -c`, as git and Ansible call helpers. Target ≤ 1.2.
func BenchmarkFrontWarmGitCache(b *testing.B) {
	tk, get := warmGet(b)
	git := gitCredentialCache(b, tk.env)
	r := compare(b, timedSide(b, "get", get.underSh(b)), timedSide(b, "git-cache", git.underSh(b)))
	figure(b, "warm get / git credential-cache get, both under sh -c", r.ratio, "×", 1.2)
}

// BenchmarkFrontFloorGitCache: the static Go hello-world vs `git
// credential-cache get`, both under `sh -c`: not a target but the floor
// the git-cache figure stands on. A Go program's start (its runtime, its
// threads) is what any Go helper pays before its first line of main, so
// warm get / git-cache can come no lower than this figure plus the round
// trip to the agent; printed beside the targets so the two are read
// together.
func BenchmarkFrontFloorGitCache(b *testing.B) {
	tk, _ := warmGet(b)
	hello := command{name: "hello", path: buildHello(b), env: tk.env}
	git := gitCredentialCache(b, tk.env)
	r := compare(b, timedSide(b, "hello", hello.underSh(b)), timedSide(b, "git-cache", git.underSh(b)))
	figureWithout(b, "floor: static Go hello-world / git-cache, both under sh -c", r.ratio, "×", 1.2, "reference")
}

// BenchmarkFrontWarmKubelogin: warm `tokenkeeper get` vs kubelogin
// v1.34.0's `get-token` answering from its token cache, the Go exec
// credential plugin of Kubernetes. Target ≤ 0.6.
func BenchmarkFrontWarmKubelogin(b *testing.B) {
	tk, get := warmGet(b)
	kubelogin := kubeloginCached(b, tk.env)
	r := compare(b, timedSide(b, "get", get), timedSide(b, "kubelogin", kubelogin))
	figure(b, "warm get / kubelogin get-token from its cache", r.ratio, "×", 0.6)
}

// BenchmarkFrontCold: `tokenkeeper get` with no agent running (it starts
// one, which logs in) vs the same with the full binary, `tokenkeeper-core
// get`, the cold path as it was before the front binary; while bin/ holds
// no tokenkeeper-core, both sides are the one binary (a ratio of about 1,
// and the figure has no verdict: n/a). Each agent is stopped by PID after
// its get, so every get is cold; the simulator must count one login per
// get. Target ≤ 1.
func BenchmarkFrontCold(b *testing.B) {
	m := measuredBinaries(b)
	s := startSim(b, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER")
	tk := newTK(b, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	baseline, label := m.core, "cold get / cold tokenkeeper-core get"
	if baseline == "" {
		baseline, label = m.front, "cold get / cold get of the same binary"
		b.Logf("no tokenkeeper-core beside %s: the baseline is the same binary, the figure has no verdict", m.front)
	}
	b.Logf("measured: %s against the baseline %s", describe(m.front), describe(baseline))
	tk.bin = m.front // for its cleanup's agent stop
	var gets int64
	cold := func(name, bin string) side {
		c := command{name: filepath.Base(bin) + " get (cold)", path: bin, env: tk.env, args: []string{"get", "--profile", "sddc"}}
		return side{name: name, run: func() time.Duration {
			d := c.timed(b)
			gets++
			stopAgent(b, tk)
			return d
		}}
	}
	r := compare(b, cold("cold", m.front), cold("baseline", baseline))
	if m.core == "" {
		figureWithout(b, label, r.ratio, "×", 1, "one binary")
	} else {
		figure(b, label, r.ratio, "×", 1)
	}
	if st := s.Stats(b); st.Logins != gets {
		b.Errorf("%d logins for %d cold gets: some get was not cold", st.Logins, gets)
	}
}
