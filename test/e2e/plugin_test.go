package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// Lifetimes of the simulated tokens: short so the whole lifecycle fits in
// a few seconds of real time. The keeper's safety margin scales with the
// lifetime (a tenth: 300 ms here), so no override is needed.
const (
	accessTTL  = 3 * time.Second
	refreshTTL = 8 * time.Second
	// slack is how long past an expiry the flow waits, so the expiry has
	// surely passed on the simulator's clock too.
	slack = 300 * time.Millisecond
)

// pluginEnv is one launched plugin against its own simulator.
type pluginEnv struct {
	sim       *Sim
	client    *host.Client
	password  string // canary: must never appear in any output
	wrong     string // the wrong password of profile "wrong"
	hostLog   *testutil.SyncBuffer
	rawStderr *testutil.SyncBuffer
}

func randomHex(t testing.TB) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// launchPlugin starts a simulator and the real tokenkeeper binary as a
// go-plugin child of this test, with its log level at level.
func launchPlugin(t *testing.T, level string) *pluginEnv {
	t.Helper()
	tokenkeeper, _ := binaries(t)
	e := &pluginEnv{password: "canary-pw-" + randomHex(t), wrong: "wrong-pw-" + randomHex(t),
		hostLog: &testutil.SyncBuffer{}, rawStderr: &testutil.SyncBuffer{}}
	e.sim = startSim(t, "vcf",
		"--user", "svc@vsphere.local="+e.password+":ADMIN",
		"--user", "other@vsphere.local=right-"+randomHex(t)+":VIEWER",
		"--access-ttl", accessTTL.String(), "--refresh-ttl", refreshTTL.String())
	cfg := writeFile(t, "config.yaml", fmt.Sprintf(`profiles:
  sddc:
    provider: vcf
    url: %[1]s
    ca_file: %[2]s
    username: svc@vsphere.local
    password: {env: E2E_VCF_PASSWORD}
  wrong:
    provider: vcf
    url: %[1]s
    ca_file: %[2]s
    username: other@vsphere.local
    password: {env: E2E_WRONG_PASSWORD}
`, e.sim.URL, e.sim.CAFile))
	c, err := launch(t, host.LaunchOptions{
		Path:       tokenkeeper,
		ConfigPath: cfg,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Trace,
			Output: e.hostLog, JSONFormat: true}),
		Stderr: e.rawStderr,
		Env: []string{"E2E_VCF_PASSWORD=" + e.password, "E2E_WRONG_PASSWORD=" + e.wrong,
			"TOKENKEEPER_LOG_LEVEL=" + level},
	})
	if err != nil {
		t.Fatalf("Launch: %v\nplugin stderr:\n%s", err, e.rawStderr.String())
	}
	e.client = c
	return e
}

// flowResult is what the flow saw, for the canary test.
type flowResult struct {
	tokens []string // every distinct access token and header value
	fps    []string // their fingerprints
	errs   []string // every error string
}

// lifecycleFlow drives the acceptance flow of the plugin mode and checks
// the simulator's counts at every step.
func lifecycleFlow(t *testing.T, e *pluginEnv) flowResult {
	var res flowResult
	var mu sync.Mutex // guards res
	seen := map[string]bool{}
	get := func(profile string, minValidity time.Duration) (*host.Token, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		tok, err := e.client.Token(ctx, profile, host.TokenOptions{MinValidity: minValidity})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.errs = append(res.errs, err.Error())
			return nil, err
		}
		if !seen[tok.Fingerprint] {
			seen[tok.Fingerprint] = true
			res.fps = append(res.fps, tok.Fingerprint)
		}
		for _, v := range []string{tok.Access.Reveal(), tok.HeaderValue.Reveal()} {
			if !seen[v] {
				seen[v] = true
				res.tokens = append(res.tokens, v)
			}
		}
		return tok, nil
	}
	stats := func(step string, want func(s sim.Stats) bool) {
		t.Helper()
		s := e.sim.Stats(t)
		if !want(s) {
			t.Fatalf("%s: simulator stats %+v", step, s)
		}
		t.Logf("%s: %+v", step, s)
	}

	// 1. 200 concurrent callers on a cold profile: one login.
	toks := concurrently(t, 200, func() (*host.Token, error) { return get("sddc", 0) })
	for _, tok := range toks[1:] {
		if tok.Fingerprint != toks[0].Fingerprint {
			t.Fatalf("concurrent callers got different tokens: %s and %s", toks[0].Fingerprint, tok.Fingerprint)
		}
	}
	stats("200 concurrent GetToken", func(s sim.Stats) bool { return s.Logins == 1 && s.Refreshes == 0 })

	// 2. After the access lifetime: refreshed, not logged in again. The
	// wait is from the token's own expiry, not from when the flow began:
	// a slow cold login must not leave the first token still valid here.
	sleepUntil(t, toks[0].ExpiresAt.Add(slack))
	tok, err := get("sddc", 0)
	if err != nil {
		t.Fatalf("GetToken after the access lifetime: %v", err)
	}
	if tok.Fingerprint == toks[0].Fingerprint {
		t.Fatal("an expired token was handed out")
	}
	stats("after the access lifetime", func(s sim.Stats) bool { return s.Logins == 1 && s.Refreshes >= 1 })

	// 3. 50 concurrent invalidations of the same token: one refresh. The
	// token is forced fresh first, so no proactive refresh is due while
	// this step runs.
	ctx := callCtx(t)
	tok, err = e.client.Token(ctx, "sddc", host.TokenOptions{ForceRefresh: true})
	if err != nil {
		t.Fatalf("forced refresh: %v", err)
	}
	before := e.sim.Stats(t)
	concurrently(t, 50, func() (*host.Token, error) {
		return nil, e.client.Invalidate(ctx, "sddc", tok.Fingerprint, "401 from GET /v1/domains")
	})
	next, err := get("sddc", 0)
	if err != nil || next.Fingerprint == tok.Fingerprint {
		t.Fatalf("GetToken after invalidation: %v (same token: %v)", err, next != nil && next.Fingerprint == tok.Fingerprint)
	}
	stats("50 invalidations", func(s sim.Stats) bool {
		return s.Refreshes == before.Refreshes+1 && s.Logins == before.Logins
	})

	// 4. After the refresh lifetime (and the life of the last access token
	// refreshed before it ended): a new login.
	// The first token was issued with the refresh token, at its expiry
	// minus the access lifetime.
	refreshEnds := toks[0].ExpiresAt.Add(refreshTTL - accessTTL)
	sleepUntil(t, refreshEnds.Add(accessTTL+slack))
	if _, err := get("sddc", 0); err != nil {
		t.Fatalf("GetToken after the refresh lifetime: %v", err)
	}
	stats("after the refresh lifetime", func(s sim.Stats) bool { return s.Logins == 2 })

	// 5. A wrong password, 50 callers: exactly one failed login upstream.
	for i := range 50 {
		if _, err := get("wrong", 0); !errors.Is(err, host.ErrUnauthenticated) && !errors.Is(err, host.ErrLockedOut) {
			t.Fatalf("call %d with a wrong password: %v, want ErrUnauthenticated or ErrLockedOut", i, err)
		}
	}
	concurrently(t, 50, func() (*host.Token, error) { _, err := get("wrong", 0); return nil, ignore(err) })
	stats("100 calls with a wrong password", func(s sim.Stats) bool { return s.LoginFailures == 1 })
	if _, err := get("wrong", 0); !errors.Is(err, host.ErrLockedOut) {
		t.Errorf("after a rejection: %v, want ErrLockedOut", err)
	}

	// 6. Close: the plugin revokes what it holds.
	stats("before Close", func(s sim.Stats) bool { return s.ActiveSessions >= 1 })
	closing := time.Now()
	if err := closeClient(t, e.client); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// go-plugin SIGKILLs a plugin still running 2 s after Shutdown; the
	// revocation budget (1.5 s) must keep it from getting there.
	t.Logf("Close (revoke and exit) took %s", time.Since(closing).Round(time.Millisecond))
	if strings.Contains(e.hostLog.String(), "plugin failed to exit gracefully") {
		t.Error("the plugin was SIGKILLed: it did not exit within go-plugin's 2 s")
	}
	stats("after Close", func(s sim.Stats) bool { return s.ActiveSessions == 0 && s.Revocations >= 1 })
	return res
}

func TestPluginLifecycle(t *testing.T) {
	t.Parallel()
	lifecycleFlow(t, launchPlugin(t, "info"))
}

// uuidRE matches refresh-token ids (VCF issues UUIDs).
var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

func TestPluginCanaryTraceLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	e := launchPlugin(t, "trace")
	res := lifecycleFlow(t, e)

	outputs := map[string]string{
		"host log (plugin log lines forwarded by go-plugin)": e.hostLog.String(),
		"plugin stderr": e.rawStderr.String(),
		"error strings": strings.Join(res.errs, "\n"),
	}
	// Positive controls: the capture must hold the plugin's trace lines,
	// naming the tokens by fingerprint, or the search below proves nothing.
	if !strings.Contains(outputs["plugin stderr"], `"@level":"trace"`) {
		t.Fatal("the plugin logged nothing at trace level: the canary would prove nothing")
	}
	for _, where := range []string{"plugin stderr", "host log (plugin log lines forwarded by go-plugin)"} {
		if !strings.Contains(outputs[where], res.fps[0]) {
			t.Fatalf("the %s never names the first token's fingerprint: the capture is not seeing the keeper", where)
		}
	}
	if len(res.tokens) < 8 {
		t.Fatalf("only %d distinct tokens seen; the flow should have produced more", len(res.tokens))
	}
	canaries := map[string]string{"the password": e.password, "the wrong password": e.wrong}
	for i, tok := range res.tokens {
		canaries[fmt.Sprintf("token #%d", i)] = tok
		// A JWT's payload and signature are unique to it; a log holding
		// either leaks the token in part.
		if parts := strings.Split(strings.TrimPrefix(tok, "Bearer "), "."); len(parts) == 3 {
			canaries[fmt.Sprintf("token #%d payload", i)] = parts[1]
			canaries[fmt.Sprintf("token #%d signature", i)] = parts[2]
		}
	}
	for where, text := range outputs {
		for what, secret := range canaries {
			if strings.Contains(text, secret) {
				// Never print the secret itself, not even in a failure.
				t.Errorf("%s appears in the %s", what, where)
			}
		}
		if m := uuidRE.FindString(text); m != "" {
			t.Errorf("a UUID-shaped string (a refresh id?) appears in the %s", where)
		}
	}
}

// concurrently runs f n times at once and returns the tokens, failing the
// test on the first error.
func concurrently(t *testing.T, n int, f func() (*host.Token, error)) []*host.Token {
	t.Helper()
	out := make([]*host.Token, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			out[i], errs[i] = f()
		}()
	}
	close(gate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent call: %v", err)
		}
	}
	return out
}

// ignore accepts the errors a wrong password is expected to cause.
func ignore(err error) error {
	if err == nil || errors.Is(err, host.ErrUnauthenticated) || errors.Is(err, host.ErrLockedOut) {
		return nil
	}
	return err
}

// sleepUntil waits for at, refusing a wait longer than the flow's
// lifetimes could explain (a wrong expiry would hang the suite).
func sleepUntil(t *testing.T, at time.Time) {
	t.Helper()
	d := time.Until(at)
	if d > refreshTTL+accessTTL {
		t.Fatalf("asked to wait %s; the simulated lifetimes are %s and %s", d, accessTTL, refreshTTL)
	}
	time.Sleep(d)
}
