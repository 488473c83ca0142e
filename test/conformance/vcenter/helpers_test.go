// Package vcenter holds tokenkeeper's vCenter provider to VMware's own
// simulator and client: tokenkeeper against vcsim (the govmomi v0.46.3
// binary, and the v0.52.0 library with a session idle timeout), govmomi's
// REST client against tokenkeeper-sim vcenter, and a real
// ansible-playbook against vcsim through the lookup. It is a module of
// its own so govmomi never reaches the tokenkeeper binary. `make
// conformance-vcenter` runs it with the binaries it needs:
// TK_CONFORMANCE_TOKENKEEPER, TK_CONFORMANCE_SIM (default ../../../bin/…)
// and TK_VCSIM (the cached vcsim build).
package vcenter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Test values of the simulated accounts (never real credentials). The
// user has no @domain: vcsim v0.46.3's REST login refuses any user name
// holding '@' (its /rest handler compares against a URL that lost the
// escaping), whatever the password.
const (
	vcUser     = "svc-automation"
	vcPassword = "Conformance-Vc-Passw0rd!"
)

// cmdTimeout bounds one child command.
const cmdTimeout = 2 * time.Minute

// binary is a built program the suite needs: env names its path, def is
// the default relative to this directory ("" for none).
func binary(t *testing.T, env, def string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = def
	}
	if p == "" {
		t.Fatalf("set %s (make conformance-vcenter does)", env)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("%s: %v (run make build, or set %s)", abs, err, env)
	}
	return abs
}

func tokenkeeperBin(t *testing.T) string {
	return binary(t, "TK_CONFORMANCE_TOKENKEEPER", filepath.Join("..", "..", "..", "bin", "tokenkeeper"))
}

// certs is a CA and a certificate for 127.0.0.1 it signed, on disk.
type certs struct {
	caFile, certFile, keyFile string
	tls                       tls.Certificate
	pool                      *x509.CertPool
}

// newCerts makes a fresh CA and a server certificate for 127.0.0.1.
func newCerts(t *testing.T) certs {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "conformance CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	c := certs{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	for file, block := range map[string]*pem.Block{c.caFile: {Type: "CERTIFICATE", Bytes: caDER},
		c.certFile: {Type: "CERTIFICATE", Bytes: der}, c.keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if c.tls, err = tls.LoadX509KeyPair(c.certFile, c.keyFile); err != nil {
		t.Fatal(err)
	}
	c.pool = x509.NewCertPool()
	c.pool.AddCert(ca)
	return c
}

// client trusts the CA only.
func (c certs) client() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: c.pool, MinVersion: tls.VersionTLS12}}}
}

// rejectsWrongPassword is the suite's precondition on a vcsim: a login
// with a wrong password must be refused with 401, else the server accepts
// anything and no rejection test means a thing.
func rejectsWrongPassword(c *http.Client, base string) error {
	req, _ := http.NewRequest(http.MethodPost, base+"/rest/com/vmware/cis/session", nil)
	req.SetBasicAuth(vcUser, vcPassword+"-wrong")
	req.Header.Set("vmware-use-header-authn", "true")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("vcsim at %s: %w", base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("vcsim at %s answered a wrong password with %d, not 401: it accepts any password "+
			"(start it with -username and -password); refusing to run the suite against it", base, resp.StatusCode)
	}
	return nil
}

// counter is a reverse proxy in front of a server that counts the
// logins passing through it, by status.
type counter struct {
	srv *httptest.Server
	mu  sync.Mutex // guards logins
	// logins maps the status of each login (POST …/session without
	// ~action) to how many there were.
	logins map[int]int
}

// newCounter serves TLS with c's certificate and forwards to target.
func newCounter(t *testing.T, c certs, target string) *counter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	k := &counter{logins: map[int]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = c.client().Transport
	rp.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/session") && r.URL.Query().Get("~action") == "" {
			k.mu.Lock()
			k.logins[resp.StatusCode]++
			k.mu.Unlock()
		}
		return nil
	}
	k.srv = httptest.NewUnstartedServer(rp)
	k.srv.TLS = &tls.Config{Certificates: []tls.Certificate{c.tls}, MinVersion: tls.VersionTLS12}
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

// count returns how many logins were answered with status.
func (k *counter) count(status int) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.logins[status]
}

// tk is one isolated tokenkeeper user: private HOME, XDG directories and
// TMPDIR, a profiles file with one vcenter profile "vc", and the password
// in the environment. Its agent is stopped at cleanup.
type tk struct {
	t       *testing.T
	bin     string
	env     []string
	stopped bool
}

// newTK writes a profile for url (trusting caFile) with extra YAML lines.
func newTK(t *testing.T, url, caFile, password string, extra ...string) *tk {
	t.Helper()
	dir, err := os.MkdirTemp("", "tkv") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.yaml")
	lines := append([]string{"profiles:", "  vc:", "    provider: vcenter", "    url: " + url, "    ca_file: " + caFile,
		"    username: " + vcUser, "    password: {env: TK_VC_PASSWORD}"}, extra...)
	if err := os.WriteFile(config, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := &tk{t: t, bin: tokenkeeperBin(t), env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"XDG_RUNTIME_DIR=" + run, "XDG_CONFIG_HOME=" + dir, "TMPDIR=" + dir, "TOKENKEEPER_CONFIG=" + config,
		"TK_VC_PASSWORD=" + password}}
	t.Cleanup(func() {
		k.stop()
		_ = os.RemoveAll(dir)
	})
	return k
}

// stop stops the user's agent, which logs its sessions out; once.
func (k *tk) stop() {
	k.t.Helper()
	if k.stopped {
		return
	}
	k.stopped = true
	if code, _, stderr := k.run("agent", "stop"); code != 0 {
		k.t.Errorf("agent stop: exit %d: %s", code, stderr)
	}
}

// run runs tokenkeeper with args and returns exit code, stdout, stderr.
// Neither output may carry the password.
func (k *tk) run(args ...string) (int, string, string) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = k.env
	cmd.WaitDelay = 5 * time.Second // an agent it started may hold a copy of the pipes briefly
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		k.t.Fatalf("tokenkeeper %s: %v", strings.Join(args, " "), err)
	}
	for _, out := range []string{stdout.String(), stderr.String()} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(vcPassword[:12])) {
			k.t.Fatalf("tokenkeeper %s printed the password", strings.Join(args, " "))
		}
	}
	return code, stdout.String(), stderr.String()
}

// token is the part of the Token document the suite reads.
type token struct {
	Kind        string `json:"kind"`
	Fingerprint string `json:"fingerprint"`
	Header      struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"header"`
}

// get runs `tokenkeeper get --profile vc ARGS…` and decodes the token.
func (k *tk) get(args ...string) token {
	k.t.Helper()
	code, stdout, stderr := k.run(append([]string{"get", "--profile", "vc"}, args...)...)
	if code != 0 {
		k.t.Fatalf("get: exit %d: %s", code, stderr)
	}
	var tok token
	if err := json.Unmarshal([]byte(stdout), &tok); err != nil || tok.Header.Name != "vmware-api-session-id" || tok.Header.Value == "" {
		k.t.Fatalf("get printed no vCenter session (header %q): %v", tok.Header.Name, err)
	}
	return tok
}

// call sends method base+path with the token's header and returns the
// status and body.
func call(t *testing.T, c *http.Client, method, base, path string, tok token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(tok.Header.Name, tok.Header.Value)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// startProcess starts argv, waits for the first stdout line that
// contains want, and stops the process with SIGTERM at cleanup.
func startProcess(t *testing.T, want string, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(argv[0]), stderr.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				lines <- sc.Text()
				break
			}
		}
		for sc.Scan() { // keep draining
		}
	}()
	select {
	case line := <-lines:
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("%s printed no %q line within 30s", argv[0], want)
	}
	return ""
}
