package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The acceptance runs of issue 17 (make e2e-proxy): clients that never
// refresh, through the real binary, for several token lifetimes.

// curlLoop is a shell client that never refreshes: GET $RES through the
// proxy's socket every $PAUSE s, and $LONG s after every 10th request,
// until $SECS have passed (500 requests at most). It prints the statuses
// that were not 200 and a summary, and exits 1 if there was one.
const curlLoop = `end=$(( $(date +%s) + SECS )); n=0; bad=0
while [ "$(date +%s)" -lt "$end" ] && [ "$n" -lt 500 ]; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --unix-socket "$SOCK" -H "Accept: $ACCEPT" "http://localhost$RES")
  n=$((n+1))
  [ "$code" = 200 ] || { bad=$((bad+1)); echo "status $code"; }
  if [ $((n % 10)) -eq 0 ]; then sleep "$LONG"; else sleep "$PAUSE"; fi
done
echo "curl: $n requests, $bad not 200"
[ "$bad" -eq 0 ] && [ "$n" -gt 5 ]`

// pyLoop is the same client in Python: one requests.Session with a fixed
// base URL (the proxy's loopback port), never refreshing anything.
const pyLoop = `import os, sys, time
import requests
base, res, accept = os.environ["BASE"], os.environ["RES"], os.environ["ACCEPT"]
end = time.time() + float(os.environ["SECS"])
s = requests.Session()
s.headers["Accept"] = accept
n = bad = 0
while time.time() < end and n < 500:
    r = s.get(base + res, timeout=20)
    n += 1
    if r.status_code != 200:
        bad += 1
        print("status", r.status_code, r.text[:200])
    time.sleep(float(os.environ["LONG"]) if n % 10 == 0 else float(os.environ["PAUSE"]))
print("python requests: %d requests, %d not 200" % (n, bad))
sys.exit(1 if bad or n <= 5 else 0)
`

// python is the interpreter with requests installed (make e2e-proxy
// installs Debian's python3-requests when it is missing).
func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("TK_E2E_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if err := exec.Command(py, "-c", "import requests").Run(); err != nil {
		t.Fatalf("%s cannot import requests (%v): make e2e-proxy installs python3-requests", py, err)
	}
	return py
}

// loopClients runs curlLoop on the socket proxy and pyLoop on the port
// proxy at once, for secs, and fails the test unless every request got 200.
func loopClients(t *testing.T, sock, port *runningProxy, res, accept string, secs int, long string) {
	t.Helper()
	py := python(t)
	env := append(os.Environ(), fmt.Sprintf("SECS=%d", secs), "RES="+res, "ACCEPT="+accept, "PAUSE=0.2", "LONG="+long)
	script := filepath.Join(t.TempDir(), "loop.py")
	if err := os.WriteFile(script, []byte(pyLoop), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second+2*time.Minute)
	defer cancel()
	clients := []*exec.Cmd{
		exec.CommandContext(ctx, "sh", "-c", curlLoop),
		exec.CommandContext(ctx, py, script),
	}
	clients[0].Env = append(slices.Clip(env), "SOCK="+sock.Socket)
	clients[1].Env = append(slices.Clip(env), "BASE="+port.URL)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			out, err := c.CombinedOutput()
			t.Logf("%s", strings.TrimSpace(string(out)))
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(c.Path), err)
			}
		})
	}
	wg.Wait()
}

// TestProxyAcceptVCFLifetimes: for three lifetimes of a 4 s access token
// (and more), a curl loop on the socket and a Python session on the port
// get 200 for every request, on one login.
func TestProxyAcceptVCFLifetimes(t *testing.T) {
	proxyOnly(t)
	t.Parallel()
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER", "--access-ttl", "4s")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	sock := tk.startProxy(t, "--profile", "sddc", "--timeout", "1s")
	port := tk.startProxy(t, "--profile", "sddc", "--timeout", "1s", "--listen", "127.0.0.1:0")
	loopClients(t, sock, port, "/v1/domains", "application/json", 14, "0.2")
	st := s.Stats(t)
	t.Logf("simulator: %+v", st)
	if st.Logins != 1 || st.Refreshes < 3 {
		t.Fatalf("logins %d refreshes %d: want 1 login and a refresh per lifetime", st.Logins, st.Refreshes)
	}
}

// TestProxyAcceptVCDIdleSessions: the same clients against a legacy Cloud
// Director session (x-vcloud-authorization) that idles out after 3 s,
// pausing 4 s after every 10th request: the proxy keeps the session alive
// while it serves, so every request gets 200 on one login.
func TestProxyAcceptVCDIdleSessions(t *testing.T) {
	proxyOnly(t)
	t.Parallel()
	s := startSim(t, "vcd", "--idle-timeout", "3s", "--user", "alice@ExampleOrg="+vcdPassword)
	config := "profiles:\n" + vcdProfile("legacy", s,
		"    org: ExampleOrg\n    username: alice\n    password: {env: VCD_E2E_PASSWORD}\n    legacy_login: true\n    idle_timeout: 3s\n")
	tk := newTK(t, config, "VCD_E2E_PASSWORD="+vcdPassword)
	sock := tk.startProxy(t, "--profile", "legacy", "--timeout", "1s")
	port := tk.startProxy(t, "--profile", "legacy", "--timeout", "1s", "--listen", "127.0.0.1:0")
	loopClients(t, sock, port, "/api/org", "application/*+xml;version=37.0", 14, "4")
	st := s.Stats(t)
	t.Logf("simulator: %+v", st)
	if st.Logins != 1 {
		t.Fatalf("%d logins, want 1", st.Logins)
	}
}

// TestProxyAcceptVCenterIdleSessions: the same against a vCenter session
// (vmware-api-session-id) that idles out after 3 s: one login.
func TestProxyAcceptVCenterIdleSessions(t *testing.T) {
	proxyOnly(t)
	t.Parallel()
	s := startSim(t, "vcenter", "--idle-timeout", "3s", "--user", e2eUser+"="+e2ePassword)
	config := fmt.Sprintf("profiles:\n  vc:\n    provider: vcenter\n    url: %s\n    ca_file: %s\n    username: %s\n"+
		"    password: {env: TK_E2E_PW}\n    idle_timeout: 3s\n", s.URL, s.CAFile, e2eUser)
	tk := newTK(t, config, pwEnv)
	sock := tk.startProxy(t, "--profile", "vc", "--timeout", "1s")
	port := tk.startProxy(t, "--profile", "vc", "--timeout", "1s", "--listen", "127.0.0.1:0")
	loopClients(t, sock, port, "/api/vcenter/vm", "application/json", 10, "4")
	st := s.Stats(t)
	t.Logf("simulator: %+v", st)
	if st.Logins != 1 {
		t.Fatalf("%d logins, want 1", st.Logins)
	}
}

// TestProxyAcceptExpireUnderLoad: 100 clients loop through one proxy;
// mid-way every access token is revoked (/_sim/expire). Every request is
// answered 200, with exactly one refresh: each request that met the 401
// was retried once (its log line says retried=true) and none twice.
func TestProxyAcceptExpireUnderLoad(t *testing.T) {
	proxyOnly(t)
	const clients, each = 100, 20
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	rp := tk.startProxy(t, "--profile", "sddc")
	if status, _ := rp.get(t, "/v1/domains"); status != 200 {
		t.Fatalf("warm-up: %d", status)
	}
	hc := rp.client()
	var done, bad atomic.Int64
	expired := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				resp, err := hc.Get(rp.URL + "/v1/domains")
				if err != nil {
					bad.Add(1)
					t.Errorf("GET: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 {
					bad.Add(1)
					t.Errorf("GET through the proxy: %d", resp.StatusCode)
				}
				if done.Add(1) == clients*each/2 {
					s.Expire(t, "access")
					close(expired)
				}
			}
		})
	}
	wg.Wait()
	<-expired
	st := s.Stats(t)
	rp.stop()
	rejected := strings.Count(rp.log.String(), "retried=true")
	t.Logf("simulator: %+v; %d requests, %d retried after a 401", st, done.Load(), rejected)
	if bad.Load() != 0 || st.Logins != 1 || st.Refreshes != 1 {
		t.Fatalf("%d failed requests, %d logins, %d refreshes: want 0, 1 and exactly 1", bad.Load(), st.Logins, st.Refreshes)
	}
	if st.Unauthorized == 0 || int64(rejected) != st.Unauthorized {
		t.Fatalf("%d 401s upstream, %d requests retried: want each 401 retried once", st.Unauthorized, rejected)
	}
}

// TestProxyAcceptBigBodies: a 1 GiB request body (chunked) and a 1 GiB
// response body pass through the proxy intact, with its resident memory
// (high-water mark, VmHWM) under 50 MiB.
func TestProxyAcceptBigBodies(t *testing.T) {
	proxyOnly(t)
	const size = 1 << 30
	u := startProxyUpstream(t)
	tk := newTK(t, upstreamConfig(u), pwEnv)
	rp := tk.startProxy(t, "--profile", "sddc")
	hc := rp.client()
	start := time.Now()
	sent := crc32.NewIEEE()
	body := io.TeeReader(io.LimitReader(&pattern{}, size), sent)
	resp, err := hc.Post(rp.URL+"/bulk", "application/octet-stream", io.NopCloser(body)) // no length: chunked
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Bytes int64
		CRC   uint32
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	_ = resp.Body.Close()
	if err != nil || got.Bytes != size || got.CRC != sent.Sum32() {
		t.Fatalf("upload: status %d, upstream got %d bytes crc %x (%v), want %d crc %x", resp.StatusCode, got.Bytes, got.CRC, err, size, sent.Sum32())
	}
	up := time.Since(start)
	start = time.Now()
	resp, err = hc.Get(fmt.Sprintf("%s/bulk?bytes=%d", rp.URL, size))
	if err != nil {
		t.Fatal(err)
	}
	recv := crc32.NewIEEE()
	n, err := io.Copy(recv, resp.Body)
	_ = resp.Body.Close()
	if err != nil || n != size || recv.Sum32() != patternCRC(size) {
		t.Fatalf("download: status %d, %d bytes (%v), crc mismatch %v", resp.StatusCode, n, err, recv.Sum32() != patternCRC(size))
	}
	down := time.Since(start)
	rss := peakRSS(t, rp.cmd.Process.Pid)
	t.Logf("1 GiB up in %s, down in %s; proxy peak RSS %.1f MiB", up.Round(time.Millisecond), down.Round(time.Millisecond), float64(rss)/(1<<20))
	if rss >= 50<<20 {
		t.Fatalf("proxy peak RSS %d MiB, want < 50", rss>>20)
	}
}
