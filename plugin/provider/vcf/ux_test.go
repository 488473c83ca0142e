package vcf

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// TestLoginAnswerNotFromSDDCManager: a 400 or 401 that SDDC Manager did
// not write (Go's answer to plain HTTP on a TLS port, a proxy's HTML
// page) is bad configuration with a hint, never a rejected credential.
func TestLoginAnswerNotFromSDDCManager(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		kind     error
		contains string
	}{
		{"proxy HTML 400", 400, "<html><body><h1>400 Bad Request</h1></body></html>", provider.ErrBadConfig,
			"did not answer like SDDC Manager: check the url scheme and port"},
		{"nginx plain HTTP on TLS port", 400, "<center>The plain HTTP request was sent to HTTPS port</center>",
			provider.ErrBadConfig, "expects HTTPS: check the url scheme and port"},
		{"plain text 400", 400, "bad request", provider.ErrBadConfig, "did not answer like SDDC Manager"},
		{"empty 400", 400, "", provider.ErrBadConfig, "did not answer like SDDC Manager"},
		{"JSON without error fields 400", 400, `{"status":"x"}`, provider.ErrBadConfig, "did not answer like SDDC Manager"},
		{"proxy HTML 401", 401, "<html>Authorization Required</html>", provider.ErrBadConfig, "did not answer like SDDC Manager"},
		{"empty 401", 401, "", provider.ErrCredentialsRejected, "HTTP 401"},
		{"VCF error 400", 400, `{"errorCode":"BAD_CREDENTIALS","message":"Invalid username or password"}`,
			provider.ErrCredentialsRejected, "HTTP 400 BAD_CREDENTIALS: Invalid username or password"},
		{"VCF message only 401", 401, `{"message":"Unauthorized"}`, provider.ErrCredentialsRejected, "Unauthorized"},
		// A wrong url whose server answers anything with 200 (a portal, a
		// load balancer's landing page) was exit 1, "unexpected upstream
		// response".
		{"HTML 200", 200, "<!DOCTYPE html><html><body>Welcome</body></html>", provider.ErrBadConfig,
			"did not answer like SDDC Manager: check the url scheme and port"},
		{"plain text 201", 201, "ok", provider.ErrBadConfig, "did not answer like SDDC Manager"},
		{"empty 200", 200, "", provider.ErrBadConfig, "did not answer like SDDC Manager"},
		{"JSON without tokens 200", 200, `{"status":"x"}`, provider.ErrProtocol, "the token pair has no access token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			hc, _ := provider.NewHTTPClient(provider.HTTPOptions{CAFile: ca})
			p, err := New(Config{URL: srv.URL, HTTPClient: hc, Username: "u", Password: &staticSecret{v: "pw-123"}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Login(t.Context())
			perr(t, err, tc.kind)
			if tc.kind == provider.ErrBadConfig && errors.Is(err, provider.ErrCredentialsRejected) {
				t.Fatalf("also rejected: %v", err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("%q does not say %q", err, tc.contains)
			}
		})
	}
}

// TestPlainHTTPToTLSPortDoesNotArmGuard: url http://127.0.0.1:PORT of a
// TLS server. Go answers 400 "Client sent an HTTP request to an HTTPS
// server"; the keeper must report a scheme mistake and try again next
// time instead of refusing with its lockout guard.
func TestPlainHTTPToTLSPortDoesNotArmGuard(t *testing.T) {
	l := newLab(t, nil)
	plain := strings.Replace(l.srv.URL, "https://", "http://", 1)
	var dials atomic.Int64
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}}
	p, err := New(Config{URL: plain, HTTPClient: hc, Username: adminUser, Password: &staticSecret{v: adminPass}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Login(t.Context())
	perr(t, err, provider.ErrBadConfig)
	want := "POST /v1/tokens: HTTP 400: the server at " + plain + " speaks HTTPS: set url to " + l.srv.URL + " (bad configuration)"
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}

	k := newKeeper(t, p)
	for i := range 2 {
		_, err := k.Get(t.Context(), "sddc", keeper.GetOptions{})
		var ge *keeper.GuardError
		if errors.As(err, &ge) || errors.Is(err, provider.ErrCredentialsRejected) || !errors.Is(err, provider.ErrBadConfig) {
			t.Fatalf("get %d: %v", i+1, err)
		}
	}
	if n := dials.Load(); n != 3 {
		t.Fatalf("%d requests reached the server, want 3 (no guard refusal)", n)
	}
}

func newKeeper(t *testing.T, p *Provider) *keeper.Keeper {
	t.Helper()
	k, err := keeper.New([]keeper.ProfileSpec{{Name: "sddc", Provider: "vcf", URL: p.base.String(), Impl: p}}, keeper.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	return k
}

// TestErrorReadsOnce: the keeper's wrap names the operation, the provider
// error starts at the request, and the remediation SDDC Manager sent is
// kept.
func TestErrorReadsOnce(t *testing.T) {
	l := newLab(t, nil)
	k := newKeeper(t, l.provider(adminUser, "wrong"))
	_, err := k.Get(t.Context(), "sddc", keeper.GetOptions{})
	want := `profile "sddc": log in: POST /v1/tokens: HTTP 400 BAD_CREDENTIALS: Invalid username or password; ` +
		`Provide valid credentials (credentials rejected)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}

	k = newKeeper(t, l.newProvider(Config{Username: adminUser, Password: &staticSecret{err: errors.New("secret env VCF_PASSWORD: not set")}}, time.Second))
	_, err = k.Get(t.Context(), "sddc", keeper.GetOptions{})
	want = `profile "sddc": could not read credential: password: secret env VCF_PASSWORD: not set (bad configuration)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// TestLockedAccountMessage: the lock is said plainly, with SDDC Manager's
// remediation, scrubbed of the password.
func TestLockedAccountMessage(t *testing.T) {
	l := newLab(t, nil)
	bad := l.provider(viewUser, "wrong")
	for range 5 {
		_, _ = bad.Login(t.Context())
	}
	_, err := l.provider(viewUser, viewPass).Login(t.Context())
	pe := perr(t, err, provider.ErrCredentialsRejected)
	want := "POST /v1/tokens: HTTP 400 USER_ACCOUNT_LOCKED: The user account is locked; " +
		"Wait until the lockout period ends or ask an administrator to unlock the account (credentials rejected)"
	if pe.Error() != want {
		t.Fatalf("got  %q\nwant %q", pe, want)
	}

	tests := []struct {
		name, body, want string
	}{
		{"no message", `{"errorCode":"ACCOUNT_LOCKED"}`, "the account is locked"},
		{"vague message", `{"errorCode":"USER_ACCOUNT_LOCKED","message":"Login failed","remediationMessage":"Contact your administrator"}`,
			"the account is locked: Login failed; Contact your administrator"},
		{"remediation echoes the password", `{"errorCode":"USER_ACCOUNT_LOCKED","message":"locked","remediationMessage":"retry p4ss-w0rd later"}`,
			"the account is locked; " + withheld},
		{"a prefix of the password", `{"errorCode":"BAD_CREDENTIALS","message":"password p4ss is wrong"}`, withheld},
		{"an upper-cased copy", `{"errorCode":"BAD_CREDENTIALS","message":"got P4SS-W0RD"}`, withheld},
		{"a part in the code", `{"errorCode":"X-S-W0RD","message":"Invalid"}`, "Invalid"},
		{"not locked", `{"errorCode":"BAD_CREDENTIALS","message":"Invalid"}`, "Invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(401)
				_, _ = w.Write([]byte(tc.body))
			}))
			hc, _ := provider.NewHTTPClient(provider.HTTPOptions{CAFile: ca})
			p, _ := New(Config{URL: srv.URL, HTTPClient: hc, Username: "u", Password: &staticSecret{v: "p4ss-w0rd"}})
			_, err := p.Login(t.Context())
			if pe := perr(t, err, provider.ErrCredentialsRejected); pe.Message != tc.want {
				t.Fatalf("message %q, want %q", pe.Message, tc.want)
			}
		})
	}
}

// TestUnknownHostIsBadConfig: NXDOMAIN is a mistyped url, reported at
// once and by name; a temporary DNS failure stays retryable.
func TestUnknownHostIsBadConfig(t *testing.T) {
	tests := []struct {
		name     string
		dnsErr   *net.DNSError
		kind     error
		contains string
	}{
		{"not found", &net.DNSError{Err: "no such host", Name: "sddc-manager.invalid", IsNotFound: true},
			provider.ErrBadConfig, "POST /v1/tokens: host sddc-manager.invalid not found: check url (bad configuration)"},
		{"temporary", &net.DNSError{Err: "server misbehaving", Name: "sddc-manager.invalid", IsTemporary: true},
			provider.ErrUnavailable, "server misbehaving"},
		{"timeout", &net.DNSError{Err: "i/o timeout", Name: "sddc-manager.invalid", IsTimeout: true},
			provider.ErrUnavailable, "i/o timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hc := &http.Client{Transport: &http.Transport{
				DialContext: func(context.Context, string, string) (net.Conn, error) {
					return nil, &net.OpError{Op: "dial", Net: "tcp", Err: tc.dnsErr}
				},
			}}
			p, err := New(Config{URL: "https://sddc-manager.invalid", HTTPClient: hc, Username: "u", Password: &staticSecret{v: "p"}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Login(t.Context())
			perr(t, err, tc.kind)
			if !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("%q does not say %q", err, tc.contains)
			}
		})
	}
}

// TestWrongCAFile: a ca_file that holds some other CA is named, not
// answered with "set ca_file".
func TestWrongCAFile(t *testing.T) {
	l := newLab(t, nil)
	_, otherCA := tlsServer(t, http.NotFoundHandler())
	hc, err := provider.NewHTTPClient(provider.HTTPOptions{CAFile: otherCA, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(Config{URL: l.srv.URL, HTTPClient: hc, Username: adminUser, Password: &staticSecret{v: adminPass}})
	_, err = p.Login(t.Context())
	perr(t, err, provider.ErrBadConfig)
	want := "POST /v1/tokens: certificate signed by an unknown authority: ca_file " + otherCA +
		" does not contain the CA that signed the server's certificate (bad configuration)"
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}
	if l.sim.Stats().LoginFailures != 0 {
		t.Fatal("credentials reached an unverified server")
	}
}
