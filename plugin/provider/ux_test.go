package provider

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"wrapped rejection reads once",
			fmt.Errorf("profile %q: log in: %w", "sddc", &Error{Op: "login", Method: "POST", Path: "/v1/tokens",
				Status: 400, Code: "BAD_CREDENTIALS", Message: "Invalid credentials", Kind: ErrCredentialsRejected}),
			`profile "sddc": log in: POST /v1/tokens: HTTP 400 BAD_CREDENTIALS: Invalid credentials (credentials rejected)`},
		{"no request made",
			fmt.Errorf("could not read credential: %w", &Error{Op: "login", Message: "password",
				Err: errors.New("secret env VCF_PASSWORD: not set"), Kind: ErrBadConfig}),
			"could not read credential: password: secret env VCF_PASSWORD: not set (bad configuration)"},
		{"status only", &Error{Op: "revoke refresh token", Status: 503, Kind: ErrUnavailable},
			"HTTP 503 (upstream unavailable)"},
		{"op only when nothing else", &Error{Op: "call", Kind: ErrUnavailable}, "call (upstream unavailable)"},
		{"kind only", &Error{Kind: ErrProtocol}, "unexpected upstream response"},
		{"no kind", &Error{Method: "GET", Path: "/x", Status: 418}, "GET /x: HTTP 418"},
		{"transport", &Error{Op: "login", Method: "POST", Path: "/v1/tokens", Message: "timed out",
			Err: errors.New("context deadline exceeded"), Kind: ErrUnavailable},
			"POST /v1/tokens: timed out: context deadline exceeded (upstream unavailable)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// dialError is what net/http returns when the dial failed with err.
func dialError(err error) error {
	return &url.Error{Op: "Post", URL: "https://h/v1/tokens", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
}

func TestDNSClassification(t *testing.T) {
	tests := []struct {
		name string
		err  *net.DNSError
		kind error
		want string
	}{
		{"NXDOMAIN", &net.DNSError{Err: "no such host", Name: "sddc-manager.invalid", IsNotFound: true},
			ErrBadConfig, "POST /v1/tokens: host sddc-manager.invalid not found: check url (bad configuration)"},
		{"temporary", &net.DNSError{Err: "server misbehaving", Name: "sddc", Server: "10.0.0.53:53", IsTemporary: true},
			ErrUnavailable, "POST /v1/tokens: DNS lookup failed: dial tcp: lookup sddc on 10.0.0.53:53: server misbehaving (upstream unavailable)"},
		{"timeout", &net.DNSError{Err: "i/o timeout", Name: "sddc", IsTimeout: true}, ErrUnavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			perr := TransportError("login", "POST", "/v1/tokens", dialError(tc.err))
			if !errors.Is(perr, tc.kind) {
				t.Fatalf("%v: not %v", perr, tc.kind)
			}
			var dns *net.DNSError
			if !errors.As(perr, &dns) {
				t.Fatal("the DNS error is not unwrappable")
			}
			if tc.want != "" && perr.Error() != tc.want {
				t.Fatalf("got  %q\nwant %q", perr, tc.want)
			}
		})
	}
}

func TestUnknownCAMessage(t *testing.T) {
	srv, _ := tlsServer(t, http.HandlerFunc(ok))
	_, otherCA := tlsServer(t, http.HandlerFunc(ok))

	withFile, err := NewHTTPClient(HTTPOptions{CAFile: otherCA})
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(t, withFile, srv.URL)
	perr := TransportError("login", "GET", "/", err)
	want := "GET /: certificate signed by an unknown authority: ca_file " + otherCA +
		" does not contain the CA that signed the server's certificate (bad configuration)"
	if !errors.Is(perr, ErrBadConfig) || perr.Error() != want {
		t.Fatalf("got  %q\nwant %q", perr, want)
	}

	without, _ := NewHTTPClient(HTTPOptions{})
	_, err = get(t, without, srv.URL)
	perr = TransportError("login", "GET", "/", err)
	want = "GET /: certificate signed by an unknown authority: set ca_file to the CA bundle that signed the server's certificate (bad configuration)"
	if !errors.Is(perr, ErrBadConfig) || perr.Error() != want {
		t.Fatalf("got  %q\nwant %q", perr, want)
	}
	// The transport wrapper still lets the client drop idle connections.
	withFile.CloseIdleConnections()
}

func TestPlainHTTPToTLS(t *testing.T) {
	srv, _ := tlsServer(t, http.HandlerFunc(ok))
	plain := strings.Replace(srv.URL, "https://", "http://", 1)
	resp, err := http.Get(plain)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := ReadBody(resp.Body, 1024)
	resp.Body.Close()
	if resp.StatusCode != 400 || !PlainHTTPToTLS(body) {
		t.Fatalf("Go's answer to plain HTTP on a TLS port not recognised: %d %q", resp.StatusCode, body)
	}
	if PlainHTTPToTLS([]byte(`{"errorCode":"BAD_CREDENTIALS"}`)) {
		t.Fatal("an API error taken for a scheme mistake")
	}
	if got, want := HTTPSHint(plain), "the server at "+plain+" speaks HTTPS: set url to "+srv.URL; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
