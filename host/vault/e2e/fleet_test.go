package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// Secrets of the simulators' accounts: canaries that must never come
// back from Vault nor appear in its logs or audit log.
const (
	password      = "Fleet-Canary-Pass-5e1d"
	wrongPassword = "Fleet-Wrong-Pass-77ab"
	serviceToken  = "fleetCanarySAtoken5e1d0123456789"
)

// accessTTL is the simulator's access lifetime in the fleet runs: three
// of them fit in one run.
const accessTTL = 15 * time.Second

// writeProfile writes profiles/<name> with the simulator's CA.
func writeProfile(t *testing.T, tv *testVault, u *upstream, name string, data map[string]any) {
	t.Helper()
	data["url"], data["ca_pem"] = u.URL, u.caPEM(t)
	_, err := tv.root.Logical().Write(mount+"/profiles/"+name, data)
	must(t, err)
}

// fleetToken is a token whose policy reads token/<names> and kv/bench only.
func fleetToken(t *testing.T, tv *testVault, policy string, names ...string) string {
	t.Helper()
	var rules strings.Builder
	for _, n := range names {
		fmt.Fprintf(&rules, "path %q { capabilities = [\"read\"] }\n", mount+"/token/"+n)
	}
	rules.WriteString(`path "kv/bench" { capabilities = ["read"] }` + "\n")
	must(t, tv.root.Sys().PutPolicy(policy, rules.String()))
	s, err := tv.root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{policy}, TTL: "1h"})
	must(t, err)
	return s.Auth.ClientToken
}

// TestFleetLoad: 20 processes × 50 readers of token/sddc over three access
// lifetimes cost one upstream login and refreshes only; every token lasts
// the minValidity asked and is accepted upstream (a check that reached it
// only after its expiry, late under load, proves nothing: verdict). Token reads are timed against KV reads of the same
// readers on the same server.
func TestFleetLoad(t *testing.T) {
	tv := startVault(t, "info")
	sim := startSim(t, "vcf", "--user", "svc@vsphere.local="+password, "--access-ttl", accessTTL.String())
	writeProfile(t, tv, sim, "sddc", map[string]any{"provider": "vcf", "username": "svc@vsphere.local", "password": password})
	quiet := quietGets(t, tv, nil, mount+"/token/sddc", "kv/bench", 200)
	f := fleet{
		Processes: 20, Readers: 50, Path: mount + "/token/sddc", KVPath: "kv/bench",
		For: 3*accessTTL + 5*time.Second, Pause: time.Second,
		Token: fleetToken(t, tv, "fleet", "sddc"), Sim: sim, Resource: "/v1/domains", MinValidity: minValidity,
	}
	// Beside the vault/api readers: 20 runners (each its own agent) × 50
	// concurrent `tokenkeeper get` of a provider vault profile, a round
	// at the start of each access lifetime and one at the end.
	g := getFleet{
		Runners: newRunners(t, 20, engineProfiles(t, tv, "sddc"), f.Token), Gets: 50, Rounds: 4, Every: accessTTL,
		Profile: "sddc", Sim: sim, Resource: "/v1/domains", MinValidity: minValidity,
	}
	gets := make(chan getSummary, 1)
	go func() { gets <- g.run(t) }()
	reports := f.run(t, tv)
	gs := <-gets
	sum := summarize(reports)
	st := sim.stats(t)
	figure(t, "fleet load: %d processes x %d readers, %s, min validity %s: %d token reads, %d errors, %d answers failing their check, %d distinct tokens; upstream logins %d, refreshes %d, failed logins %d",
		f.Processes, f.Readers, f.For, f.MinValidity, sum.reads, sum.errors, sum.bad, len(sum.fingerprints), st.Logins, st.Refreshes, st.LoginFailures)
	figure(t, "fleet load through tokenkeeper get (provider vault): %d runners x %d concurrent gets x %d rounds: %d gets, %d failed, %d distinct tokens",
		len(g.Runners), g.Gets, g.Rounds, gs.gets, gs.failures, len(gs.fingerprints))
	figure(t, "latency under fleet load: token read p50 %.2f ms p99 %.2f ms (n=%d); KV read p50 %.2f ms p99 %.2f ms (n=%d); tokenkeeper get p50 %.2f ms p99 %.2f ms (n=%d)",
		pct(sum.token, 50), pct(sum.token, 99), len(sum.token), pct(sum.kv, 50), pct(sum.kv, 99), len(sum.kv),
		pct(gs.millis, 50), pct(gs.millis, 99), len(gs.millis))
	after := quietGets(t, tv, &g.Runners[0], mount+"/token/sddc", "kv/bench", 100)
	figure(t, "latency of one serial reader after the load: tokenkeeper get p50 %.2f ms p99 %.2f ms; vault/api token read p50 %.2f ms p99 %.2f ms; KV read p50 %.2f ms p99 %.2f ms (n=%d each, interleaved)",
		pct(after.get, 50), pct(after.get, 99), pct(after.token, 50), pct(after.token, 99), pct(after.kv, 50), pct(after.kv, 99), len(after.kv))
	if gs.failures > 0 {
		t.Errorf("%d of %d gets failed, e.g. %q", gs.failures, gs.gets, gs.sample)
	}
	for fp, ok := range gs.fingerprints {
		if !ok {
			t.Errorf("the simulator refused token %s handed out by tokenkeeper get", fp)
		}
	}
	figure(t, "latency of one serial reader before the load: token read p50 %.2f ms p99 %.2f ms; KV read p50 %.2f ms p99 %.2f ms (n=%d each)",
		pct(quiet.token, 50), pct(quiet.token, 99), pct(quiet.kv, 50), pct(quiet.kv, 99), len(quiet.kv))
	if sum.errors > 0 {
		t.Errorf("%d reads failed, e.g. %q", sum.errors, sum.sample)
	}
	if sum.bad > 0 {
		t.Errorf("%d answers failed their check, e.g. %q", sum.bad, sum.badSample)
	}
	if st.Logins != 1 || st.LoginFailures != 0 {
		t.Errorf("upstream logins %d, failed %d; want 1 and 0", st.Logins, st.LoginFailures)
	}
	if st.Refreshes < 3 {
		t.Errorf("upstream refreshes %d over three access lifetimes; want at least 3", st.Refreshes)
	}
	for fp, ok := range sum.fingerprints {
		if !ok {
			t.Errorf("the simulator refused token %s", fp)
		}
	}
}

// TestFleetLockout: the same fleet reading a profile with a wrong
// password costs one failed login in total; the account never locks, and
// a corrected password is tried at once.
func TestFleetLockout(t *testing.T) {
	tv := startVault(t, "info")
	sim := startSim(t, "vcf", "--user", "svc@vsphere.local="+password)
	writeProfile(t, tv, sim, "sddc", map[string]any{"provider": "vcf", "username": "svc@vsphere.local", "password": wrongPassword})
	f := fleet{
		Processes: 20, Readers: 50, Path: mount + "/token/sddc",
		For: 20 * time.Second, Pause: time.Second, Token: fleetToken(t, tv, "fleet", "sddc"),
	}
	// The same through tokenkeeper get: every get exits 3 with the Error
	// document of a rejection or of the engine's lockout guard.
	g := getFleet{
		Runners: newRunners(t, 20, engineProfiles(t, tv, "sddc"), f.Token), Gets: 50, Rounds: 2, Every: 10 * time.Second,
		Profile: "sddc", WantExit: 3, WantCodes: []string{"Unauthenticated", "FailedPrecondition"},
	}
	gets := make(chan getSummary, 1)
	go func() { gets <- g.run(t) }()
	sum := summarize(f.run(t, tv))
	gs := <-gets
	st := sim.stats(t)
	figure(t, "fleet lockout: %d processes x %d readers, %s, wrong password: %d reads refused; %d tokenkeeper get exited 3 (%d otherwise); upstream failed logins %d, logins %d",
		f.Processes, f.Readers, f.For, sum.errors, gs.gets-gs.failures, gs.failures, st.LoginFailures, st.Logins)
	if gs.failures > 0 {
		t.Errorf("%d of %d gets did not exit 3 with an Error document, e.g. %q", gs.failures, gs.gets, gs.sample)
	}
	if st.LoginFailures != 1 || sum.reads != sum.errors {
		t.Fatalf("failed logins %d (want 1), %d of %d reads refused", st.LoginFailures, sum.errors, sum.reads)
	}
	status, err := tv.root.Logical().Read(mount + "/status/sddc")
	must(t, err)
	if status.Data["retry_at"] == "" || status.Data["state"] != "rejected" {
		t.Errorf("status after the refusals: %v", status.Data)
	}

	start := time.Now()
	_, err = tv.root.Logical().Write(mount+"/profiles/sddc", map[string]any{"password": password})
	must(t, err)
	// A runner whose agent saw the refusals gets a token at once: no
	// local lockout budget holds back the password fixed in the engine.
	res, d, err := g.Runners[0].get(context.Background(), "sddc")
	if err != nil || res.exit != 0 || d.Kind != "Token" {
		t.Fatalf("tokenkeeper get after the corrected password: exit %d, %v, stderr %q", res.exit, err, res.stderr)
	}
	if st := sim.stats(t); st.Logins != 1 || st.LoginFailures != 1 {
		t.Fatalf("after the corrected password: %+v", st)
	}
	figure(t, "fleet lockout: the corrected password logged in %s after it was written (through tokenkeeper get)", time.Since(start).Round(time.Millisecond))
}

// quietTimes are serial latencies of three ways to read, interleaved.
type quietTimes struct{ get, token, kv []float64 }

// quietGets times n rounds of a `tokenkeeper get` of sddc by runner r
// (nil: none; its agent warm), a vault/api read of token and one of kv,
// interleaved, with no other load of this test.
func quietGets(t *testing.T, tv *testVault, r *runner, token, kv string, n int) quietTimes {
	t.Helper()
	var q quietTimes
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for range n {
		if r != nil {
			res, _, err := r.get(context.Background(), "sddc")
			if err != nil || res.exit != 0 {
				t.Fatalf("serial get: exit %d, %v", res.exit, err)
			}
			q.get = append(q.get, ms(res.took))
		}
		for _, x := range []struct {
			path string
			into *[]float64
		}{{token, &q.token}, {kv, &q.kv}} {
			t0 := time.Now()
			_, err := tv.root.Logical().Read(x.path)
			must(t, err)
			*x.into = append(*x.into, ms(time.Since(t0)))
		}
	}
	return q
}

// summary adds up the reports of a fleet.
type summary struct {
	reads, errors int
	sample        []string
	bad           int
	badSample     []string
	fingerprints  map[string]bool
	token, kv     []float64
}

func summarize(rs []report) summary {
	s := summary{fingerprints: map[string]bool{}}
	for _, r := range rs {
		s.reads += r.Reads
		s.errors += r.Errors
		s.sample = append(s.sample, r.ErrorSample...)
		s.bad += r.Bad
		s.badSample = append(s.badSample, r.BadSample...)
		for fp, ok := range r.Fingerprints {
			s.fingerprints[fp] = s.fingerprints[fp] || ok
		}
		s.token = append(s.token, r.TokenMillis...)
		s.kv = append(s.kv, r.KVMillis...)
	}
	if len(s.sample) > 3 {
		s.sample = s.sample[:3]
	}
	if len(s.badSample) > 3 {
		s.badSample = s.badSample[:3]
	}
	return s
}

// pct is the p-th percentile of ms (nearest rank).
func pct(ms []float64, p int) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

// figure logs a measured figure and appends it to
// $TOKENKEEPER_E2E_FIGURES when set, for the closing note.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	path := os.Getenv("TOKENKEEPER_E2E_FIGURES")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s: %s\n", t.Name(), line); err != nil {
		t.Error(errors.Join(err))
	}
}
