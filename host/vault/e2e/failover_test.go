package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestFailover: stepping the active node down mid-load, readers keep
// getting valid tokens from the new active node; the lockout guard's
// record and a service-account token rotated just before the failover
// are in the replicated storage, so the wrong password stays at one
// failed login and the rotated token still logs in.
func TestFailover(t *testing.T) {
	tv := startVault(t, "debug")
	vcd := startSim(t, "vcd", "--service-account", serviceToken+":robot@ExampleOrg")
	vcf := startSim(t, "vcf", "--user", "svc@vsphere.local="+password)
	writeProfile(t, tv, vcd, "robot", map[string]any{"provider": "vcd", "org": "ExampleOrg", "service_account": serviceToken})
	writeProfile(t, tv, vcf, "bad", map[string]any{"provider": "vcf", "username": "svc@vsphere.local", "password": wrongPassword})
	if _, err := tv.root.Logical().Read(mount + "/token/bad"); err == nil {
		t.Fatal("a wrong password was accepted")
	}

	f := fleet{
		Processes: 4, Readers: 25, Path: mount + "/token/robot", For: 40 * time.Second, Pause: 500 * time.Millisecond,
		Token: fleetToken(t, tv, "fleet", "robot"), Sim: vcd, Resource: "/cloudapi/1.0.0/orgs",
	}
	done := make(chan []report, 1)
	go func() { done <- f.run(t, tv) }()

	time.Sleep(10 * time.Second)
	rotateNow(t, tv, vcd)
	old := tv.activeCore(t, nil)
	stepDown := time.Now()
	must(t, old.Client.Sys().StepDown())
	active := tv.activeCore(t, old)
	// From here on the old node is a standby: what it answers, it forwards.
	failedOver := time.Now()
	figure(t, "failover: node %s stepped down, node %s active after %s", old.Name(), active.Name(), failedOver.Sub(stepDown).Round(time.Millisecond))

	reports := <-done
	for i, r := range reports {
		after := 0
		for _, at := range r.OKAt {
			if at > failedOver.UnixMilli() {
				after++
			}
		}
		if after == 0 {
			t.Errorf("reader process %d got no token after the failover (errors %d, e.g. %q)", i, r.Errors, r.ErrorSample)
		}
	}
	// The old active node revoked its sessions as it stepped down, so only
	// the tokens of the new one must still be accepted.
	sum := summarize(reports)
	fresh := 0
	for _, r := range reports {
		for fp, at := range r.FirstSeen {
			if at > failedOver.UnixMilli() {
				fresh++
				if !r.Fingerprints[fp] {
					t.Errorf("the simulator refused token %s of the new active node", fp)
				}
			}
		}
	}
	if fresh == 0 {
		t.Error("no reader got a token of the new active node")
	}

	_, err := active.Client.Logical().Read(mount + "/token/bad")
	if err == nil || !strings.Contains(err.Error(), "LOCKOUT_GUARD") {
		t.Errorf("the wrong password after the failover: %v", err)
	}
	if _, err := active.Client.Logical().Read(mount + "/token/robot"); err != nil {
		t.Errorf("the rotated service account after the failover: %v", err)
	}
	sv, sf := vcd.stats(t), vcf.stats(t)
	figure(t, "failover: %d reads, %d errors around the step-down, %d distinct tokens; vcd exchanges (logins) %d, failed %d; vcf failed logins %d",
		sum.reads, sum.errors, len(sum.fingerprints), sv.Logins, sv.LoginFailures, sf.LoginFailures)
	if sv.LoginFailures != 0 || sf.LoginFailures != 1 {
		t.Errorf("failed logins: vcd %d (want 0), vcf %d (want 1)", sv.LoginFailures, sf.LoginFailures)
	}
}

// rotateNow makes the engine exchange (and so rotate) the service
// account at once: it invalidates the current token and reads a new one.
func rotateNow(t *testing.T, tv *testVault, vcd *upstream) {
	t.Helper()
	before := vcd.stats(t).Logins
	s, err := tv.root.Logical().Read(mount + "/token/robot")
	must(t, err)
	_, err = tv.root.Logical().Write(mount+"/invalidate/robot", map[string]any{"fingerprint": s.Data["fingerprint"]})
	must(t, err)
	_, err = tv.root.Logical().Read(mount + "/token/robot")
	must(t, err)
	if after := vcd.stats(t).Logins; after != before+1 {
		t.Fatalf("exchanges %d → %d: no rotation just before the failover", before, after)
	}
}
