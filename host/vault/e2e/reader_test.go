package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// A reader process is this test binary run with readerEnv set: it reads
// the engine's token path (and, when set, a KV path) from many goroutines
// through vault/api until its deadline, checks every new token against
// the simulator, and prints one report on stdout.
const readerEnv = "TOKENKEEPER_E2E_READER"

// fleet describes one fleet run: processes × readers reading path.
type fleet struct {
	Processes, Readers int
	Path, KVPath       string        // KVPath: "" for none
	For, Pause         time.Duration // how long each reader reads; pause between reads
	Token              string        // the Vault token of the fleet
	Sim                *upstream     // checks each token; nil: no check
	Resource           string        // the simulator's protected path
	// MinValidity is asked of every token read (min_validity) and
	// checked in each answer (verdict); 0: none.
	MinValidity time.Duration
}

// report is one reader process's outcome.
type report struct {
	Reads, Errors int
	ErrorSample   []string
	Bad           int // answers that failed their verdict
	BadSample     []string
	Fingerprints  map[string]bool  // fingerprint → not refused by the simulator before its expiry
	FirstSeen     map[string]int64 // fingerprint → unix milliseconds
	TokenMillis   []float64
	KVMillis      []float64
	OKAt, ErrAt   []int64 // unix milliseconds of each read
}

func TestMain(m *testing.M) {
	if os.Getenv(readerEnv) != "" {
		os.Exit(runReader())
	}
	os.Exit(m.Run())
}

// run starts the fleet's processes and returns their reports once all
// have ended (each within For plus a minute, else the test fails).
func (f fleet) run(t *testing.T, tv *testVault) []report {
	t.Helper()
	cfg, _ := json.Marshal(f)
	var wg sync.WaitGroup
	out := make([]report, f.Processes)
	errs := make([]error, f.Processes)
	for i := range f.Processes {
		wg.Go(func() { out[i], errs[i] = f.process(tv, cfg) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func (f fleet) process(tv *testVault, cfg []byte) (report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.For+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), readerEnv+"="+string(cfg),
		"VAULT_ADDR="+tv.root.Address(), "VAULT_CACERT="+tv.cluster.CACertPEMFile, "VAULT_TOKEN="+f.Token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return report{}, fmt.Errorf("reader process: %v; stderr: %s", err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return report{}, fmt.Errorf("reader report: %v", err)
	}
	return r, nil
}

func runReader() int {
	var f fleet
	if err := json.Unmarshal([]byte(os.Getenv(readerEnv)), &f); err != nil {
		fmt.Fprintln(os.Stderr, "bad reader config:", err)
		return 2
	}
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if f.Sim != nil {
		f.Sim.http = readerHTTP(f.Sim.CAFile)
	}
	r := &sharedReport{report: report{Fingerprints: map[string]bool{}, FirstSeen: map[string]int64{}}}
	deadline := time.Now().Add(f.For)
	var wg sync.WaitGroup
	for range f.Readers {
		wg.Go(func() { f.read(c, r, deadline) })
	}
	wg.Wait()
	if err := json.NewEncoder(os.Stdout).Encode(r.report); err != nil {
		return 1
	}
	return 0
}

// read is one reader: bounded by the deadline, and by a count too.
func (f fleet) read(c *api.Client, r *sharedReport, deadline time.Time) {
	var query map[string][]string
	if f.MinValidity > 0 {
		query = map[string][]string{"min_validity": {fmt.Sprint(int(f.MinValidity.Seconds()))}}
	}
	for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
		t0 := time.Now()
		s, err := c.Logical().ReadWithData(f.Path, query)
		r.token(f, s, err, t0)
		if f.KVPath != "" {
			t0 = time.Now()
			_, err := c.Logical().Read(f.KVPath)
			r.kv(err, time.Since(t0))
		}
		time.Sleep(time.Duration(float64(f.Pause) * (0.5 + rand.Float64())))
	}
}

// sharedReport is the report the readers of one process fill in.
type sharedReport struct {
	mu sync.Mutex // guards report
	report
}

func (r *sharedReport) token(f fleet, s *api.Secret, err error, sent time.Time) {
	took := time.Since(sent)
	now := time.Now().UnixMilli()
	if err == nil && (s == nil || s.Data["header_value"] == nil) {
		err = fmt.Errorf("no token in the answer")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Reads++
	if err != nil {
		r.Errors++
		r.ErrAt = append(r.ErrAt, now)
		if len(r.ErrorSample) < 3 {
			r.ErrorSample = append(r.ErrorSample, err.Error())
		}
		return
	}
	r.OKAt = append(r.OKAt, now)
	r.TokenMillis = append(r.TokenMillis, float64(took.Microseconds())/1000)
	fp, _ := s.Data["fingerprint"].(string)
	a := answer{Sent: sent}
	if exp, ok := s.Data["expires_at"].(string); ok {
		a.ExpiresAt, _ = time.Parse(time.RFC3339, exp)
	}
	_, seen := r.Fingerprints[fp]
	if !seen && f.Sim != nil {
		// Checked once per token and process, under the lock: a few calls.
		a.Checked = true
		a.Accepted, _ = f.Sim.accepts(s.Data["header_name"].(string), s.Data["header_value"].(string), f.Resource)
		a.CheckedAt = time.Now()
	}
	err = verdict(a, f.MinValidity)
	if err != nil {
		r.Bad++
		if len(r.BadSample) < 3 {
			r.BadSample = append(r.BadSample, "token "+fp+": "+err.Error())
		}
	}
	if a.Checked {
		r.Fingerprints[fp], r.FirstSeen[fp] = a.Accepted || err == nil, now
	}
}

func (r *sharedReport) kv(err error, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.KVMillis = append(r.KVMillis, float64(took.Microseconds())/1000)
	}
}

func readerHTTP(caFile string) *http.Client {
	c, err := newTrusting(caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return c
}
