package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// The validity acceptance tests of issue 10 run for minutes against the
// wall clock, so `make test` leaves them out: `make e2e-validity` (part of
// `make e2e`) sets this variable.
const envValidity = "TK_E2E_VALIDITY"

func validityOnly(t *testing.T) {
	t.Helper()
	binaries(t) // skips under -short
	if os.Getenv(envValidity) == "" {
		t.Skipf("a minutes-long acceptance test: set %s=1 (make e2e-validity)", envValidity)
	}
}

// validityDoc is the Token document, read as a client should: unknown
// fields ignored.
type validityDoc struct {
	Kind                 string    `json:"kind"`
	Token                string    `json:"token"`
	Header               header    `json:"header"`
	ExpiresAt            time.Time `json:"expiresAt"`
	Fingerprint          string    `json:"fingerprint"`
	ShorterThanRequested bool      `json:"shorterThanRequested"`
}

// plainSim is a tokenkeeper-sim speaking plain HTTP on a fixed loopback
// port, so that a test can kill it and start it again at the same URL
// (with --tls a restart would bring a new CA).
type plainSim struct {
	t      *testing.T
	kind   string
	args   []string
	addr   string // 127.0.0.1:PORT once known
	URL    string
	http   *http.Client
	stderr *testutil.SyncBuffer

	mu sync.Mutex // guards p
	p  *proc
}

func startPlainSim(t *testing.T, kind string, args ...string) *plainSim {
	t.Helper()
	s := &plainSim{t: t, kind: kind, args: args, addr: "127.0.0.1:0", stderr: &testutil.SyncBuffer{},
		http: &http.Client{Timeout: 5 * time.Second}}
	s.URL = s.start() // set once: restarts reuse s.addr, and readers do not lock
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = u.Host
	return s
}

// start runs the simulator on s.addr, waits for its ready line and
// returns the URL it serves.
func (s *plainSim) start() string {
	s.t.Helper()
	_, simulator := binaries(s.t)
	cmd := exec.Command(simulator, append([]string{s.kind, "--listen", s.addr}, s.args...)...)
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	p := startProc(s.t, cmd)
	ready := readReady(s.t, p, stdout, s.stderr)
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
	return ready.URL
}

// kill ends the simulator with SIGKILL (by PID): every token it issued
// dies with it, as in a crashed appliance.
func (s *plainSim) kill() {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (s *plainSim) post(path string, body any) error {
	b, _ := json.Marshal(body)
	resp, err := s.http.Post(s.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: HTTP %d", path, resp.StatusCode)
	}
	return nil
}

// domains calls GET /v1/domains with h; 0 when no answer came.
func (s *plainSim) domains(h header) int {
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/domains", nil)
	req.Header.Set(h.Name, h.Value)
	resp, err := s.http.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// chaosLog records when the simulator ended tokens (expire, kill): only
// those may excuse a token the resource refuses.
type chaosLog struct {
	mu     sync.Mutex
	events []time.Time // when tokens minted before it stopped working
	down   bool        // the simulator is killed right now
}

func (c *chaosLog) ended(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, at)
}

// excuses reports whether the simulator ended, at or after minted and
// before now, the tokens it had issued.
func (c *chaosLog) excuses(minted, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return true
	}
	for _, e := range c.events {
		if !e.Before(minted) && !e.After(now) {
			return true
		}
	}
	return false
}

func (c *chaosLog) setDown(d bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = d
}

// jwtIssuedAt reads iat (whole seconds, so at most the mint time) from
// the simulator's access token without printing it.
func jwtIssuedAt(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iat int64 `json:"iat"`
	}
	if err != nil || json.Unmarshal(b, &c) != nil {
		return time.Time{}
	}
	return time.Unix(c.Iat, 0)
}

// chaos injects one fault after another until stop: 503s, 429s, resets
// and stalls on the token endpoints, /_sim/expire, and a kill followed by
// a restart on the same port.
func chaos(t *testing.T, s *plainSim, rng *rand.Rand, log *chaosLog, stop <-chan struct{}, counts map[string]int) {
	refresh := "/v1/tokens/access-token/refresh"
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(1000+rng.IntN(3000)) * time.Millisecond):
		}
		var err error
		switch kind := rng.IntN(6); kind {
		case 0:
			counts["503"]++
			err = s.post("/_sim/faults", sim.Fault{Path: refresh, Status: 503, Count: 1 + rng.IntN(4)})
		case 1:
			counts["429"]++
			err = s.post("/_sim/faults", sim.Fault{Path: refresh, Status: 429, Count: 1 + rng.IntN(3)})
		case 2:
			counts["reset"]++
			err = s.post("/_sim/faults", sim.Fault{Path: refresh, Reset: true, Count: 1 + rng.IntN(2)})
		case 3:
			counts["stall"]++
			err = s.post("/_sim/faults", sim.Fault{Path: refresh, Delay: fmt.Sprintf("%dms", 1000+rng.IntN(5000)), Count: 1})
		case 4:
			counts["expire"]++
			err = s.post("/_sim/expire", map[string]string{"what": "access"})
			log.ended(time.Now())
		case 5:
			counts["kill"]++
			log.setDown(true)
			log.ended(time.Now())
			s.kill()
			time.Sleep(time.Duration(500+rng.IntN(4500)) * time.Millisecond)
			s.start()
			log.setDown(false)
		}
		if err != nil {
			t.Errorf("chaos: %v", err)
		}
	}
}

// TestValidityFaultLoop is issue 10's first acceptance loop: for more than
// two minutes, with 5 s tokens and the simulator failing in every way it
// can (503, 429, resets, stalls, expired tokens, killed and restarted on
// the same port), every `get --min-validity 3s` either exits 0 with a
// token the protected resource accepts at receipt and still 3 s later, or
// exits 5 — never 0 with less. A refusal is excused only when the
// simulator itself ended the token after it was minted.
func TestValidityFaultLoop(t *testing.T) {
	validityOnly(t)
	const (
		password = "canary-validity-Pa55-3e1f"
		runFor   = 130 * time.Second
		getters  = 3
	)
	s := startPlainSim(t, "vcf", "--access-ttl", "5s", "--user", "svc@vsphere.local="+password+":ADMIN")
	tk := newTK(t, fmt.Sprintf("profiles:\n  sddc:\n    provider: vcf\n    url: %s\n    username: svc@vsphere.local\n"+
		"    password: {env: VALIDITY_PASSWORD}\n    timeout: 3s\n", s.URL), "VALIDITY_PASSWORD="+password)
	tk.startAgent(t)

	log := &chaosLog{}
	stop := make(chan struct{})
	counts := map[string]int{}
	chaosDone := make(chan struct{})
	go func() { defer close(chaosDone); chaos(t, s, rand.New(rand.NewPCG(10, 1)), log, stop, counts) }()

	var mu sync.Mutex // guards exits and excused
	exits := map[int]int{}
	excused := 0
	deadline := time.Now().Add(runFor)
	var wg sync.WaitGroup
	for range getters {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				code, why := validityRound(t, tk, s, log)
				mu.Lock()
				exits[code]++
				if why {
					excused++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-chaosDone
	t.Logf("gets by exit code %v (%d refusals excused by the simulator ending the token); chaos %v", exits, excused, counts)
	if exits[0] == 0 || len(counts) < 4 {
		t.Errorf("the loop proved little: exits %v, chaos %v", exits, counts)
	}
	if strings.Contains(tk.seen.String(), password) {
		t.Error("the password appeared in tokenkeeper's output")
	}
}

// validityRound runs one `get --min-validity 3s` and checks its outcome
// against the simulator; it returns the exit code and whether a refusal
// by the resource was excused.
func validityRound(t *testing.T, tk *tkEnv, s *plainSim, log *chaosLog) (int, bool) {
	r := tk.run(t, nil, "get", "--profile", "sddc", "--min-validity", "3s", "--timeout", "6s")
	received := time.Now()
	switch r.code {
	case 5:
		return 5, false
	case 0:
	default:
		t.Errorf("get: exit %d (want 0 or 5): %s", r.code, r.stderr)
		return r.code, false
	}
	var doc validityDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Kind != "Token" {
		t.Errorf("get: exit 0 without a Token document (%v)", err)
		return 0, false
	}
	if doc.ShorterThanRequested {
		t.Errorf("get without --allow-shorter: shorterThanRequested")
	}
	if left := doc.ExpiresAt.Sub(received); left < 3*time.Second-time.Second { // expiresAt is whole seconds
		t.Errorf("get: exit 0 with a token expiring in %v, asked for 3s", left)
	}
	minted := jwtIssuedAt(doc.Token)
	excused := false
	for _, at := range []time.Duration{0, 3 * time.Second} {
		time.Sleep(time.Until(received.Add(at)))
		if st := s.domains(doc.Header); st != http.StatusOK {
			if !log.excuses(minted, time.Now()) {
				t.Errorf("GET /v1/domains %v after receipt: %d for token %s, and the simulator did not end it",
					at, st, doc.Fingerprint)
			}
			excused = true
			// What a client does with a 401: report it, ask again.
			tk.run(t, nil, "invalidate", "--profile", "sddc", "--fingerprint", doc.Fingerprint)
			break
		}
	}
	return 0, excused
}

// TestValidityIdleRounds is issue 10's second acceptance loop: against
// `tokenkeeper-sim vcd --idle-timeout 4s`, every profile type — password
// tenant, System provider, legacy /api/sessions, API token, service
// account — hands out only tokens the protected resource accepts, over 40
// rounds with random pauses of 0.2–6 s (seeded, one stream per profile).
func TestValidityIdleRounds(t *testing.T) {
	validityOnly(t)
	const rounds = 40
	dir := t.TempDir()
	s := startSim(t, "vcd", "--idle-timeout", "4s",
		"--user", "alice@ExampleOrg="+vcdPassword, "--user", "admin@System="+vcdAdminPassword+":System Administrator",
		"--api-token", vcdAPIToken+":alice@ExampleOrg", "--service-account", vcdSAToken+":robot@ExampleOrg")
	config := "profiles:\n" +
		vcdProfile("tenant", s, "    org: ExampleOrg\n    username: alice\n    password: {env: VCD_E2E_PASSWORD}\n") +
		vcdProfile("system", s, "    org: System\n    username: admin\n    password: {env: VCD_E2E_ADMIN_PASSWORD}\n") +
		vcdProfile("legacy", s, "    org: ExampleOrg\n    username: alice\n    password: {env: VCD_E2E_PASSWORD}\n    legacy_login: true\n") +
		vcdProfile("apitoken", s, "    org: ExampleOrg\n    api_token: {file: "+vcdWriteSecret(t, dir, "api", vcdAPIToken)+"}\n") +
		vcdProfile("robot", s, "    org: ExampleOrg\n    service_account: {file: "+vcdWriteSecret(t, dir, "sa", vcdSAToken)+"}\n")
	tk := newTK(t, config, "VCD_E2E_PASSWORD="+vcdPassword, "VCD_E2E_ADMIN_PASSWORD="+vcdAdminPassword)
	tk.startAgent(t)
	profiles := []struct{ name, resource string }{
		{"tenant", "/cloudapi/1.0.0/orgs"}, {"system", "/cloudapi/1.0.0/orgs"}, {"legacy", "/api/org"},
		{"apitoken", "/cloudapi/1.0.0/orgs"}, {"robot", "/cloudapi/1.0.0/orgs"},
	}
	var wg sync.WaitGroup
	for i, p := range profiles {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(4, uint64(i)))
			refused, renewed, last := 0, 0, ""
			for round := range rounds {
				time.Sleep(time.Duration(200+rng.IntN(5800)) * time.Millisecond)
				r := tk.run(t, nil, "get", "--profile", p.name)
				var tok validityDoc
				if err := json.Unmarshal([]byte(r.stdout), &tok); r.code != 0 || err != nil || tok.Kind != "Token" {
					t.Errorf("%s round %d: get: exit %d: %s", p.name, round, r.code, r.stderr)
					continue
				}
				if tok.Fingerprint != last {
					renewed++
				}
				last = tok.Fingerprint
				if st := s.Call(t, p.resource, "37.0", tok.Header); st != http.StatusOK {
					refused++
					t.Errorf("%s round %d: GET %s with the token handed out: %d", p.name, round, p.resource, st)
				}
			}
			t.Logf("%s: %d rounds, %d distinct tokens, %d refused", p.name, rounds, renewed, refused)
		})
	}
	wg.Wait()
	t.Logf("simulator: %+v", s.Stats(t))
}

// Issue 10 case 1, as reported: with the simulator gone, every
// `get --min-validity 5s` on a 15 s token exits 5 once the cached token
// cannot last that long (never 0 with 4, 3, 2, 1 s left), and
// --allow-shorter then takes it, saying so.
func TestValidityOutageNeverShort(t *testing.T) {
	binaries(t)
	const password = "canary-validity-Outage-81c2"
	s := startPlainSim(t, "vcf", "--access-ttl", "15s", "--user", "svc@vsphere.local="+password+":ADMIN")
	tk := newTK(t, fmt.Sprintf("profiles:\n  sddc:\n    provider: vcf\n    url: %s\n    username: svc@vsphere.local\n"+
		"    password: {env: VALIDITY_PASSWORD}\n", s.URL), "VALIDITY_PASSWORD="+password)
	tk.startAgent(t)
	first := tk.get(t, "sddc", "--min-validity", "5s")
	s.kill()
	var unavailable int
	for time.Until(first.ExpiresAt) > 2*time.Second {
		r := tk.run(t, nil, "get", "--profile", "sddc", "--min-validity", "5s", "--timeout", "1s")
		var doc validityDoc
		switch {
		case r.code == 5:
			unavailable++
			if !strings.Contains(r.stderr, "the cached token expires in") {
				t.Errorf("exit 5 without the cached token's remaining life: %s", r.stderr)
			}
		case r.code == 0 && json.Unmarshal([]byte(r.stdout), &doc) == nil:
			if left := time.Until(doc.ExpiresAt); left < 4*time.Second { // expiresAt is whole seconds
				t.Fatalf("exit 0 with %v left for --min-validity 5s", left)
			}
		default:
			t.Fatalf("get: exit %d: %s", r.code, r.stderr)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if unavailable == 0 {
		t.Fatal("no get failed although the cached token ran short")
	}
	r := tk.run(t, nil, "get", "--profile", "sddc", "--min-validity", "5s", "--timeout", "2s", "--allow-shorter")
	var doc validityDoc
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &doc) != nil || !doc.ShorterThanRequested ||
		doc.Fingerprint != first.Fingerprint || !strings.Contains(r.stderr, "sooner than --min-validity") {
		t.Fatalf("--allow-shorter: exit %d, shorterThanRequested %v, same token %v: %s",
			r.code, doc.ShorterThanRequested, doc.Fingerprint == first.Fingerprint, r.stderr)
	}
	stdin := []byte(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":"5s","allowShorter":true}`)
	if r := tk.run(t, stdin, "get", "--timeout", "2s"); r.code != 0 || !strings.Contains(r.stdout, `"shorterThanRequested":true`) {
		t.Fatalf("allowShorter on stdin: exit %d: %s", r.code, r.stderr)
	}
}

// Issue 10 case 2, as reported: five `get --min-validity 10m` against
// 5-minute tokens made five refreshes; once the lifetime is known they
// are refused (exit 2) without any upstream call.
func TestValidityImpossibleRefusedEarly(t *testing.T) {
	binaries(t)
	const password = "canary-validity-Early-5d0a"
	s := startSim(t, "vcf", "--access-ttl", "5m", "--user", "svc@vsphere.local="+password+":ADMIN")
	tk := newTK(t, vcfConfig(s, "svc@vsphere.local", "{env: VALIDITY_PASSWORD}"), "VALIDITY_PASSWORD="+password)
	tk.get(t, "sddc")
	before := s.Stats(t)
	for range 5 {
		if r := tk.run(t, nil, "get", "--profile", "sddc", "--min-validity", "10m"); r.code != 2 ||
			!strings.Contains(r.stderr, "a fresh token lives 5m0s") {
			t.Fatalf("exit %d, want 2 naming the lifetime: %s", r.code, r.stderr)
		}
	}
	after := s.Stats(t)
	if after.Logins != before.Logins || after.Refreshes != before.Refreshes {
		t.Errorf("impossible gets went upstream: logins %d→%d, refreshes %d→%d",
			before.Logins, after.Logins, before.Refreshes, after.Refreshes)
	}
}
