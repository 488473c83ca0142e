package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A runner is one isolated user of tokenkeeper: its own HOME, runtime
// directory (so its own agent) and Vault token, the shared profiles file
// of provider vault pointing at the cluster.
type runner struct {
	dir, bin string
	env      []string
}

// engineProfiles writes the profiles file every runner shares: the
// cluster's address and CA in the vault block (the token comes from each
// runner's VAULT_TOKEN) and one profile of provider vault per engine
// profile, named alike.
func engineProfiles(t *testing.T, tv *testVault, names ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "vault:\n  address: %s\n  ca_cert: %s\nprofiles:\n", tv.root.Address(), tv.cluster.CACertPEMFile)
	for _, n := range names {
		fmt.Fprintf(&b, "  %s: {provider: vault, mount: %s, name: %s}\n", n, mount, n)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	must(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

// newRunners makes n runners reading with Vault token tok; their agents
// are stopped when the test ends.
func newRunners(t *testing.T, n int, config, tok string) []runner {
	t.Helper()
	root, bin := t.TempDir(), filepath.Join(binDir(t), "tokenkeeper")
	rs := make([]runner, n)
	for i := range rs {
		dir := filepath.Join(root, fmt.Sprintf("runner-%02d", i))
		for _, d := range []string{"home", "run", "config"} {
			must(t, os.MkdirAll(filepath.Join(dir, d), 0o700))
		}
		rs[i] = runner{dir: dir, bin: bin, env: []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(dir, "home"),
			"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
			"TOKENKEEPER_CONFIG=" + config, "VAULT_TOKEN=" + tok,
		}}
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Go(func() { r.tk(context.Background(), "agent", "stop") })
		}
		wg.Wait()
	})
	return rs
}

// result is one tokenkeeper call.
type result struct {
	exit   int
	stdout []byte
	stderr string
	took   time.Duration
}

// getDoc is the Token or Error document of `tokenkeeper get`.
type getDoc struct {
	Kind        string    `json:"kind"`
	Provider    string    `json:"provider"`
	Fingerprint string    `json:"fingerprint"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Header      struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"header"`
	Error *struct {
		Code      string `json:"code"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

// tk runs tokenkeeper as the runner, within a minute.
func (r runner) tk(ctx context.Context, args ...string) result {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	res := result{stdout: stdout.Bytes(), stderr: stderr.String(), took: time.Since(t0)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.exit = ee.ExitCode()
	case err != nil:
		res.exit, res.stderr = -1, err.Error()
	}
	return res
}

// get runs `tokenkeeper get --profile name` with more flags and decodes
// its document.
func (r runner) get(ctx context.Context, name string, flags ...string) (result, getDoc, error) {
	res := r.tk(ctx, append([]string{"get", "--profile", name}, flags...)...)
	var d getDoc
	if err := json.Unmarshal(res.stdout, &d); err != nil {
		return res, d, fmt.Errorf("exit %d, no JSON document on stdout (stderr %q)", res.exit, res.stderr)
	}
	return res, d, nil
}

// getFleet is runners × Gets concurrent `tokenkeeper get` of Profile, in
// Rounds spaced Every apart.
type getFleet struct {
	Runners      []runner
	Gets, Rounds int
	Every        time.Duration
	Profile      string
	Sim          *upstream // checks each new token; nil: no check
	Resource     string
	WantExit     int      // the exit code every get must have
	WantCodes    []string // and the Error document's code, when not 0
	// MinValidity is asked of every get (--min-validity) and checked
	// in each token (verdict); 0: none.
	MinValidity time.Duration
}

// getSummary adds up a get fleet.
type getSummary struct {
	gets, failures int
	sample         []string
	fingerprints   map[string]bool // → not refused by the simulator before its expiry
	millis         []float64
}

func (g getFleet) run(t *testing.T) getSummary {
	t.Helper()
	s := &sharedGets{getSummary: getSummary{fingerprints: map[string]bool{}}}
	start := time.Now()
	for round := range g.Rounds {
		time.Sleep(time.Until(start.Add(time.Duration(round) * g.Every)))
		var wg sync.WaitGroup
		for _, r := range g.Runners {
			for range g.Gets {
				wg.Go(func() { g.one(r, s) })
			}
		}
		wg.Wait()
	}
	return s.getSummary
}

type sharedGets struct {
	mu sync.Mutex // guards getSummary
	getSummary
}

// one runs one get and checks its outcome: the exit code wanted, a
// document of the kind that goes with it, and each new token against the
// simulator's protected resource (once, under the lock).
func (g getFleet) one(r runner, s *sharedGets) {
	var flags []string
	if g.MinValidity > 0 {
		flags = []string{"--min-validity", g.MinValidity.String()}
	}
	sent := time.Now()
	res, d, err := r.get(context.Background(), g.Profile, flags...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if err == nil && res.exit != g.WantExit {
		err = fmt.Errorf("exit %d, want %d (stderr %q)", res.exit, g.WantExit, res.stderr)
	}
	if err == nil && g.WantExit != 0 && (d.Kind != "Error" || d.Error == nil || !contains(g.WantCodes, d.Error.Code)) {
		// The kind and code only: the document of a regression could
		// hold a token.
		code := ""
		if d.Error != nil {
			code = d.Error.Code
		}
		err = fmt.Errorf("exit %d with a document of kind %q, error code %q", res.exit, d.Kind, code)
	}
	if err != nil {
		s.failures++
		if len(s.sample) < 3 {
			s.sample = append(s.sample, err.Error())
		}
		return
	}
	if g.WantExit != 0 {
		return
	}
	s.millis = append(s.millis, float64(res.took.Microseconds())/1000)
	a := answer{Sent: sent, ExpiresAt: d.ExpiresAt}
	_, seen := s.fingerprints[d.Fingerprint]
	if !seen && g.Sim != nil {
		a.Checked = true
		a.Accepted, _ = g.Sim.accepts(d.Header.Name, d.Header.Value, g.Resource)
		a.CheckedAt = time.Now()
	}
	err = verdict(a, g.MinValidity)
	if err != nil {
		s.failures++
		if len(s.sample) < 3 {
			s.sample = append(s.sample, "token "+d.Fingerprint+": "+err.Error())
		}
	}
	if a.Checked {
		s.fingerprints[d.Fingerprint] = a.Accepted || err == nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runnerFiles is the content of every file under the runners' own
// directories (agent logs, guard files, …), for the canary checks.
func runnerFiles(t *testing.T, rs ...runner) string {
	t.Helper()
	var b strings.Builder
	for _, r := range rs {
		err := filepath.WalkDir(r.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(path)
			b.Write(data)
			return err
		})
		must(t, err)
	}
	return b.String()
}
