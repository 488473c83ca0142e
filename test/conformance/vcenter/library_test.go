package vcenter

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/sim25"
	_ "github.com/vmware/govmomi/vapi/simulator" // registers vcsim's REST handlers
	"github.com/vmware/govmomi/vim25"
)

// withVcsim runs body against vcsim from the govmomi library (v0.52.0),
// serving c's certificate, with the suite's user and password and the
// session idle timeout set (config.vmacore.soap.sessionTimeout). vcsim
// checks a session once per timeout, so a quiet session ends between one
// and two timeouts after its last use.
func withVcsim(t *testing.T, c certs, idle time.Duration, body func(base string)) {
	t.Helper()
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(vcUser, vcPassword)}
	m.Service.TLS = &tls.Config{Certificates: []tls.Certificate{c.tls}, MinVersion: tls.VersionTLS12}
	err := m.Run(func(ctx context.Context, vc *vim25.Client) error {
		if err := sim25.SetSessionTimeout(ctx, vc, idle); err != nil {
			return fmt.Errorf("set the session timeout: %w", err)
		}
		base := "https://" + vc.URL().Host
		if err := rejectsWrongPassword(c.client(), base); err != nil {
			return err
		}
		body(base)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A session that idles out at vcsim is replaced without a failure
// reaching the caller: the agent probes the quiet session before handing
// it out, finds it gone and logs in once more. A caller asking for a
// validity longer than the idle timeout gets a session the keepalive
// holds for that long, without another login.
func TestLibraryIdleExpiryRecovered(t *testing.T) {
	const idle = 2 * time.Second
	c := newCerts(t)
	withVcsim(t, c, idle, func(base string) {
		proxy := newCounter(t, c, base)
		k := newTK(t, proxy.srv.URL, c.caFile, vcPassword, "    idle_timeout: 2s")
		hc := c.client()
		works := func(tok token, when string) {
			t.Helper()
			if status, body := call(t, hc, http.MethodGet, base, "/rest/com/vmware/cis/tagging/category", tok, ""); status != 200 {
				t.Fatalf("%s: the handed-out session gets %d %s", when, status, body)
			}
		}
		first := k.get()
		works(first, "first get")
		time.Sleep(2*idle + time.Second) // vcsim ends the quiet session
		second := k.get()
		if second.Fingerprint == first.Fingerprint {
			t.Fatal("the idled-out session was handed out again")
		}
		works(second, "after the idle timeout")
		kept := k.get("--min-validity", "6s")
		time.Sleep(6 * time.Second) // only the keepalive touches it
		third := k.get()
		if kept.Fingerprint != second.Fingerprint || third.Fingerprint != second.Fingerprint {
			t.Fatal("the kept-alive session was replaced")
		}
		works(third, "after the keepalive")
		k.stop()
		if status, _ := call(t, hc, http.MethodGet, base, "/rest/com/vmware/cis/tagging/category", third, ""); status != 401 {
			t.Fatalf("agent stop left the session alive: %d", status)
		}
		if ok, failed := proxy.count(http.StatusOK), proxy.count(http.StatusUnauthorized); ok != 2 || failed != 0 {
			t.Fatalf("vcsim saw %d logins and %d failed ones; want 2 and 0", ok, failed)
		}
		t.Logf("FIGURE: idle expiry: %d logins (the first, one after the idle-out), %d at /api/session (404, remembered)",
			proxy.count(http.StatusOK), proxy.count(http.StatusNotFound))
	})
}

// A real ansible-playbook calls vcsim's tagging resource through the
// lookup (format='header') with ansible.builtin.uri, in rounds spread over
// several of vcsim's idle timeouts: the agent keeps the session alive
// (the profile's keepalive), so the whole run logs in once.
func TestAnsibleAcrossIdleTimeouts(t *testing.T) {
	playbook, err := exec.LookPath("ansible-playbook")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ansible-playbook not found; make conformance-vcenter installs ansible-core")
		}
		t.Skip("ansible-playbook not found (make ansible-core installs it)")
	}
	const idle = 6 * time.Second
	pauses := []int{8, 8, 8}
	c := newCerts(t)
	collections := installCollection(t)
	withVcsim(t, c, idle, func(base string) {
		proxy := newCounter(t, c, base)
		// keepalive is capped at a third of the idle timeout: every 2 s.
		k := newTK(t, proxy.srv.URL, c.caFile, vcPassword, "    idle_timeout: 6s", "    keepalive: 10s")
		extra, _ := json.Marshal(map[string]any{"tokenkeeper_helper_path": k.bin, "vc_url": base,
			"vc_ca": c.caFile, "pauses": pauses})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, playbook, "-i", "localhost,", filepath.Join("testdata", "vcsim.yml"), "-e", string(extra))
		home := t.TempDir()
		cmd.Env = append(k.env[:len(k.env):len(k.env)], "ANSIBLE_COLLECTIONS_PATH="+collections, "ANSIBLE_NOCOLOR=1",
			"ANSIBLE_HOME="+home, "ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"), "ANSIBLE_CONFIG="+filepath.Join(home, "none.cfg"))
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil || !strings.Contains(string(out), "failed=0") {
			t.Fatalf("ansible-playbook: %v\n%s", err, out)
		}
		if strings.Contains(strings.ToLower(string(out)), strings.ToLower(vcPassword[:12])) {
			t.Fatal("the playbook output carries the password")
		}
		k.stop() // logs out while vcsim still runs
		if took < time.Duration(len(pauses))*idle {
			t.Fatalf("the run took %s, not several idle timeouts (%s)", took, idle)
		}
		if ok, failed := proxy.count(http.StatusOK), proxy.count(http.StatusUnauthorized); ok != 1 || failed != 0 {
			t.Fatalf("vcsim saw %d logins and %d failed ones over the run; want 1 and 0", ok, failed)
		}
		t.Logf("FIGURE: ansible-playbook against vcsim: %d rounds over %s (%.1f idle timeouts of %s), %d login",
			len(pauses)+1, took.Round(time.Second), took.Seconds()/idle.Seconds(), idle, proxy.count(http.StatusOK))
	})
}

// installCollection builds host/ansible with ansible-galaxy and installs
// the artifact into a temporary collections path, which it returns.
func installCollection(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "..", "host", "ansible")
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ansible-galaxy", args...)
		// A private HOME too: ansible-galaxy must not touch the user's ~/.ansible.
		cmd.Env = append(os.Environ(), "HOME="+dir, "ANSIBLE_HOME="+filepath.Join(dir, "home"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ansible-galaxy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("collection", "build", src, "--output-path", dir, "--force")
	tarballs, _ := filepath.Glob(filepath.Join(dir, "tokenkeeper-vmware-*.tar.gz"))
	if len(tarballs) != 1 {
		t.Fatalf("built %d collection artifacts", len(tarballs))
	}
	collections := filepath.Join(dir, "collections")
	run("collection", "install", tarballs[0], "-p", collections)
	return collections
}
