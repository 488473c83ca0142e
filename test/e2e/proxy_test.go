package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// proxyCanary is a credential a client sends itself: it must never reach
// upstream nor any log.
const proxyCanary = "ClientCanary-5e0c2b7a91"

// TestProxyRedirectCredentialsAndLog: through the real binary, a
// redirect to another port comes back to the client and the server there
// records nothing; a client's own Authorization and x-vcloud-authorization
// never reach upstream; no log line holds a token, a header value, in
// whole, in part or in another case.
func TestProxyRedirectCredentialsAndLog(t *testing.T) {
	t.Parallel()
	u := startProxyUpstream(t)
	tk := newTK(t, upstreamConfig(u), pwEnv)
	rp := tk.startProxy(t, "--profile", "sddc")
	for _, path := range []string{"/v1/domains", "/redirect"} {
		status, _ := rp.get(t, path, "Authorization", "Bearer "+proxyCanary, "X-Vcloud-Authorization", proxyCanary,
			"X-Note", proxyCanary)
		want := 200
		if path == "/redirect" {
			want = 302
		}
		if status != want {
			t.Fatalf("GET %s: %d, want %d", path, status, want)
		}
	}
	if n := u.stray(); n != 0 {
		t.Fatalf("the server on the other port got %d requests", n)
	}
	// A tool's own logout would end the keeper's session: not forwarded.
	req, _ := http.NewRequest(http.MethodDelete, rp.URL+"/v1/tokens/refresh-token", strings.NewReader(proxyCanary))
	resp, err := rp.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("DELETE /v1/tokens/refresh-token through the proxy: %d, want 403", resp.StatusCode)
	}
	if st := u.Sim.Stats(); st.Revocations != 0 || st.Logins != 1 {
		t.Fatalf("simulator %+v: the logout reached upstream", st)
	}
	if p := u.protocols(); p["HTTP/2.0"] == 0 || len(p) != 1 {
		t.Fatalf("upstream speaks HTTP/2, the proxy spoke %v", p)
	}
	creds := u.credentials()
	if len(creds) == 0 {
		t.Fatal("upstream saw no credential at all: the check proves nothing")
	}
	var tokens []string
	for _, c := range creds {
		if strings.Contains(c, proxyCanary) {
			t.Fatal("the client's own credential reached upstream")
		}
		if tok, ok := strings.CutPrefix(c, "Bearer "); ok {
			tokens = append(tokens, tok)
		}
	}
	rp.stop()
	log := strings.ToLower(tk.seen.String())
	if !strings.Contains(log, "path=/redirect status=302") {
		t.Fatalf("no request line for the redirect in the log:\n%s", tk.seen.String())
	}
	for _, s := range append([]string{proxyCanary}, tokens...) {
		for _, part := range []string{s, s[:12], s[len(s)-12:]} {
			if strings.Contains(log, strings.ToLower(part)) {
				t.Fatalf("the proxy's log holds a secret (%d bytes of one)", len(part))
			}
		}
	}
}

// TestProxyOtherUIDRefused: a process of another uid that can reach the
// proxy's socket is refused (SO_PEERCRED, the agent's check); the owner
// is served.
func TestProxyOtherUIDRefused(t *testing.T) {
	nobody := otherUser(t)
	u := startProxyUpstream(t)
	tk := newTK(t, upstreamConfig(u), pwEnv)
	rp := tk.startProxy(t, "--profile", "sddc")
	// Open the way to the socket, as a careless admin might: only the
	// peer check stands between nobody and the token now.
	openToOthers(t, rp.Socket, tk.dir, tk.runtime)
	curl := func(cred *syscall.Credential) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		c := exec.CommandContext(ctx, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
			"--unix-socket", rp.Socket, "http://localhost/v1/domains")
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := c.Output()
		return string(out), err
	}
	out, err := curl(nobody)
	if err == nil || out == "200" {
		t.Fatalf("curl as uid %d: %q, %v: want the connection closed unanswered", nobody.Uid, out, err)
	}
	if out, err := curl(nil); err != nil || out != "200" {
		t.Fatalf("curl as the owner: %q, %v", out, err)
	}
	if !strings.Contains(rp.log.String(), "refused connection from another user") {
		t.Fatalf("the proxy does not log the refusal:\n%s", rp.log.String())
	}
}

// TestProxyListenNotLoopbackRefused: any --listen but a loopback IP or a
// unix socket is a usage error, and nothing listens.
func TestProxyListenNotLoopbackRefused(t *testing.T) {
	t.Parallel()
	u := startProxyUpstream(t)
	tk := newTK(t, upstreamConfig(u), pwEnv)
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "localhost:0", "192.0.2.1:8080", ":0"} {
		r := tk.run(t, nil, "proxy", "--profile", "sddc", "--listen", addr)
		if r.code != 2 || !strings.Contains(r.stderr, "not a loopback address") || r.stdout != "" {
			t.Errorf("--listen %s: exit %d, stdout %q, stderr %s", addr, r.code, r.stdout, r.stderr)
		}
	}
}

// TestProxyRequireHeader: on a loopback port with --require-header, a
// request without the file's value is refused before upstream; with it,
// served; the file is 0600 and gone when the proxy exits.
func TestProxyRequireHeader(t *testing.T) {
	t.Parallel()
	u := startProxyUpstream(t)
	tk := newTK(t, upstreamConfig(u), pwEnv)
	rp := tk.startProxy(t, "--profile", "sddc", "--listen", "127.0.0.1:0", "--require-header", "X-Tokenkeeper-Proxy")
	if rp.Socket != "" || !strings.HasPrefix(rp.URL, "http://127.0.0.1:") || rp.HeaderName != "X-Tokenkeeper-Proxy" {
		t.Fatalf("ready line %+v", rp.proxyReady)
	}
	st, err := os.Stat(rp.HeaderFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("header file: %v, mode %v", err, st.Mode())
	}
	b, _ := os.ReadFile(rp.HeaderFile)
	value := strings.TrimSpace(string(b))
	if status, body := rp.get(t, "/v1/domains"); status != 412 || !strings.Contains(body, `"kind":"Error"`) {
		t.Fatalf("without the header: %d %s", status, body)
	}
	if status, _ := rp.get(t, "/v1/domains", "X-Tokenkeeper-Proxy", value); status != 200 {
		t.Fatalf("with the header: %d", status)
	}
	if n := u.Sim.Stats().APICalls; n != 1 {
		t.Fatalf("upstream got %d API calls, want only the one with the header", n)
	}
	rp.stop()
	if _, err := os.Stat(rp.HeaderFile); !os.IsNotExist(err) {
		t.Fatalf("the header file outlives the proxy: %v", err)
	}
	if strings.Contains(tk.seen.String(), value) {
		t.Fatal("the required header's value is in the log")
	}
}

// TestProxyExec: exec --proxy gives the command a proxy, not a token.
func TestProxyExec(t *testing.T) {
	t.Parallel()
	u := startProxyUpstream(t)
	tk := newTK(t, upstreamConfig(u), pwEnv)
	script := `test -z "$TOKENKEEPER_TOKEN" || exit 9
test -S "$TOKENKEEPER_PROXY_SOCKET" || exit 8
echo "$TOKENKEEPER_PROXY_SOCKET"
for i in 1 2 3; do curl -s -o /dev/null -w '%{http_code} ' --unix-socket "$TOKENKEEPER_PROXY_SOCKET" "$TOKENKEEPER_PROXY_URL/v1/domains"; done`
	r := tk.run(t, nil, "exec", "--proxy", "--profile", "sddc", "--", "sh", "-c", script)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || strings.TrimSpace(lines[1]) != "200 200 200" {
		t.Fatalf("exec --proxy: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(lines[0]); !os.IsNotExist(err) {
		t.Fatalf("the socket outlives the command: %v", err)
	}
	if st := u.Sim.Stats(); st.Logins != 1 || st.APICalls != 3 {
		t.Fatalf("simulator %+v", st)
	}
}

// TestProxyAgentProxies: with `proxies:` in the profiles file, the agent
// that get starts serves the profile's proxy on its default socket, from
// the same keeper (one login), until the agent stops.
func TestProxyAgentProxies(t *testing.T) {
	t.Parallel()
	u := startProxyUpstream(t)
	tk := newTK(t, upstreamConfig(u)+"proxies:\n  sddc: {}\n", pwEnv)
	tk.get(t, "sddc")
	sock := filepath.Join(tk.runtime, "tokenkeeper", "proxy-sddc.sock")
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
		"--unix-socket", sock, "http://localhost/v1/domains").Output()
	if err != nil || string(out) != "200" {
		t.Fatalf("curl through the agent's proxy: %q, %v", out, err)
	}
	if st := u.Sim.Stats(); st.Logins != 1 || st.APICalls != 1 {
		t.Fatalf("simulator %+v: want the get and the proxy on one login", st)
	}
	if r := tk.run(t, nil, "agent", "stop"); r.code != 0 {
		t.Fatalf("agent stop: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the proxy's socket outlives the agent: %v", err)
	}
}

// TestProxyNoAgent: with --no-agent the proxy keeps a keeper of its own
// for its whole life: no agent starts, a revoked token is refreshed (not
// logged in again), and exiting revokes the session upstream.
func TestProxyNoAgent(t *testing.T) {
	t.Parallel()
	u := startProxyUpstream(t)
	tk := newTK(t, upstreamConfig(u), pwEnv)
	rp := tk.startProxy(t, "--profile", "sddc", "--no-agent")
	for i := range 3 {
		if i == 2 {
			if err := u.Sim.Expire("access"); err != nil {
				t.Fatal(err)
			}
		}
		if status, body := rp.get(t, "/v1/domains"); status != 200 {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
	}
	if pids := tk.agentPIDs(t); len(pids) != 0 {
		t.Fatalf("--no-agent started agents %v", pids)
	}
	rp.stop()
	if st := u.Sim.Stats(); st.Logins != 1 || st.Refreshes != 1 || st.Revocations != 1 {
		t.Fatalf("simulator %+v: want 1 login, 1 refresh, and a revocation at exit", st)
	}
}
