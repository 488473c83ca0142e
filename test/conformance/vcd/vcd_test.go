// Package vcd checks tokenkeeper-sim vcd against VMware's own Go SDK,
// go-vcloud-director: what the SDK sends, the simulator must accept, and
// what the simulator answers, the SDK must understand, as with a real
// Cloud Director. It is a module of its own so the SDK and its
// dependencies never reach the tokenkeeper binary; it drives the
// simulator binary that `make build` made (TK_CONFORMANCE_SIM, default
// ../../../bin/tokenkeeper-sim).
package vcd

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/go-vcloud-director/v2/govcd"
)

// Test values of the simulated accounts (never real credentials).
const (
	orgName     = "ExampleOrg"
	userName    = "alice"
	password    = "Conformance-Passw0rd"
	apiToken    = "conformance-api-token-0123456789"
	saToken     = "conformance-service-account-0123456789"
	adminPasswd = "Conformance-Admin-Passw0rd"
)

// simulator is a running tokenkeeper-sim vcd.
type simulator struct {
	url    string
	caFile string
}

// startSim starts `tokenkeeper-sim vcd --tls ARGS…` on 127.0.0.1:0 with a
// tenant user, its API token and a provider admin, and stops it at cleanup.
func startSim(t *testing.T, args ...string) simulator {
	t.Helper()
	bin := os.Getenv("TK_CONFORMANCE_SIM")
	if bin == "" {
		bin = filepath.Join("..", "..", "..", "bin", "tokenkeeper-sim")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (run make build, or set TK_CONFORMANCE_SIM)", bin, err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "vcd", "--tls", "--listen", "127.0.0.1:0", "--ca-out", ca,
		"--user", userName+"@"+orgName+"="+password+":Organization Administrator",
		"--user", "admin@System="+adminPasswd,
		"--api-token", apiToken+":"+userName+"@"+orgName,
		"--service-account", saToken+":robot@"+orgName)
	cmd.Args = append(cmd.Args, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
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
			t.Logf("simulator log:\n%s", stderr.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	var r struct{ URL, CAFile string }
	select {
	case line := <-ready:
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.URL == "" {
			t.Fatalf("no ready line from the simulator (%q)", line)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the simulator did not get ready within 15s")
	}
	return simulator{url: r.URL, caFile: r.CAFile}
}

// client returns a go-vcloud-director client of the simulator that
// verifies TLS against the simulator's CA only.
func (s simulator) client(t *testing.T) *govcd.VCDClient {
	t.Helper()
	u, err := url.Parse(s.url + "/api")
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(s.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the simulator's CA file holds no certificate")
	}
	c := govcd.NewVCDClient(*u, false, govcd.WithHttpTimeout(30))
	c.Client.Http.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return c
}

// TestSDKPasswordLoginAndSessionInfo: the SDK's password login (CloudAPI
// sessions), then GetSessionInfo, on the simulator's default release (10.4,
// API 37.0, the SDK's minimum) and on 10.5 and 10.6, which have no legacy
// login.
func TestSDKPasswordLoginAndSessionInfo(t *testing.T) {
	for _, product := range []string{"", "10.5", "10.6"} {
		t.Run("product="+product, func(t *testing.T) {
			var args []string
			if product != "" {
				args = []string{"--product", product}
			}
			passwordLoginAndSessionInfo(t, startSim(t, args...))
		})
	}
}

func passwordLoginAndSessionInfo(t *testing.T, s simulator) {
	c := s.client(t)
	if err := c.Authenticate(userName, password, orgName); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	info, err := c.Client.GetSessionInfo()
	if err != nil {
		t.Fatalf("GetSessionInfo: %v", err)
	}
	if info.User.Name != userName || info.Org.Name != orgName || !strings.HasPrefix(info.ID, "urn:vcloud:session:") {
		t.Errorf("session info: user %q org %q id %q; want %s, %s, urn:vcloud:session:…", info.User.Name, info.Org.Name, info.ID, userName, orgName)
	}
	if info.SessionIdleTimeoutMinutes != 30 {
		t.Errorf("sessionIdleTimeoutMinutes = %d, want 30", info.SessionIdleTimeoutMinutes)
	}
	if len(info.Roles) != 1 || info.Roles[0] != "Organization Administrator" {
		t.Errorf("roles = %q, want [Organization Administrator]", info.Roles)
	}
	// Not Disconnect: after a CloudAPI login the SDK sends DELETE to the
	// login URL, /cloudapi/1.0.0/sessions, which VMWARE-APIS.md does not
	// list (logout is DELETE /cloudapi/1.0.0/sessions/current); the
	// simulator answers 404 rather than guess.
}

// TestSDKProviderLogin: a System user logs in at the provider endpoint.
func TestSDKProviderLogin(t *testing.T) {
	s := startSim(t)
	c := s.client(t)
	if err := c.Authenticate("admin", adminPasswd, "System"); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	info, err := c.Client.GetSessionInfo()
	if err != nil {
		t.Fatalf("GetSessionInfo: %v", err)
	}
	if info.Org.Name != "System" || !c.Client.IsSysAdmin {
		t.Errorf("org %q, IsSysAdmin %v; want System, true", info.Org.Name, c.Client.IsSysAdmin)
	}
}

// TestSDKBadPassword: a wrong password is the SDK's "Unauthorized" error.
func TestSDKBadPassword(t *testing.T) {
	s := startSim(t)
	err := s.client(t).Authenticate(userName, "not-the-password", orgName)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Authenticate with a wrong password: %v, want the SDK's 401 error", err)
	}
}

// TestSDKAPITokenExchange: the SDK's API-token login (SetApiToken: the
// OAuth refresh_token exchange, then GET /api/org with the bearer), then
// GetSessionInfo with that session.
func TestSDKAPITokenExchange(t *testing.T) {
	s := startSim(t)
	c := s.client(t)
	refresh, err := c.SetApiToken(orgName, apiToken)
	if err != nil {
		t.Fatalf("SetApiToken: %v", err)
	}
	if refresh.AccessToken == "" || !strings.EqualFold(refresh.TokenType, "Bearer") || refresh.ExpiresIn <= 0 {
		t.Errorf("token answer: type %q, expires_in %d, access token empty %v", refresh.TokenType, refresh.ExpiresIn, refresh.AccessToken == "")
	}
	info, err := c.Client.GetSessionInfo()
	if err != nil {
		t.Fatalf("GetSessionInfo: %v", err)
	}
	if info.User.Name != userName || info.Org.Name != orgName {
		t.Errorf("session info: user %q org %q", info.User.Name, info.Org.Name)
	}
	// The same path through SetToken with the API-token header.
	c2 := s.client(t)
	if err := c2.SetToken(orgName, govcd.ApiTokenHeader, apiToken); err != nil {
		t.Fatalf("SetToken(ApiTokenHeader): %v", err)
	}
	if _, err := c2.Client.GetSessionInfo(); err != nil {
		t.Fatalf("GetSessionInfo after SetToken: %v", err)
	}
	// A wrong token is refused.
	if _, err := s.client(t).SetApiToken(orgName, "not-a-token"); err == nil {
		t.Error("SetApiToken with an unknown token succeeded")
	}
}

// TestSDKServiceAccountRotation: the SDK's service-account login reads the
// token file, exchanges the token and writes the rotated one back; the old
// token is then dead and the new one works.
func TestSDKServiceAccountRotation(t *testing.T) {
	s := startSim(t)
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, []byte(`{"refresh_token":"`+saToken+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := s.client(t)
	if err := c.SetServiceAccountApiToken(orgName, file); err != nil {
		t.Fatalf("SetServiceAccountApiToken: %v", err)
	}
	info, err := c.Client.GetSessionInfo()
	if err != nil {
		t.Fatalf("GetSessionInfo: %v", err)
	}
	if info.User.Name != "robot" || info.Org.Name != orgName {
		t.Errorf("session info: user %q org %q, want robot, %s", info.User.Name, info.Org.Name, orgName)
	}
	var saved struct {
		RefreshToken string `json:"refresh_token"`
	}
	b, err := os.ReadFile(file)
	if err != nil || json.Unmarshal(b, &saved) != nil || saved.RefreshToken == "" || saved.RefreshToken == saToken {
		t.Fatalf("the token file was not rewritten with a rotated token (err %v)", err)
	}
	if _, err := s.client(t).SetApiToken(orgName, saToken); err == nil {
		t.Error("the service account's old token still works after rotation")
	}
	if err := s.client(t).SetServiceAccountApiToken(orgName, file); err != nil {
		t.Fatalf("SetServiceAccountApiToken with the rotated token: %v", err)
	}
}
