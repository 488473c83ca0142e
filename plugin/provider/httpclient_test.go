package provider

import (
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// tlsServer serves h over TLS with a fresh CA written to a file.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	cfg, caPEM, err := sim.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

func get(t *testing.T, c *http.Client, url string) (*http.Response, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func TestNewHTTPClientTLS(t *testing.T) {
	srv, ca := tlsServer(t, http.HandlerFunc(ok))

	c, err := NewHTTPClient(HTTPOptions{CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := get(t, c, srv.URL); err != nil || resp.StatusCode != 204 {
		t.Fatalf("verified with ca_file: %v", err)
	}

	c, _ = NewHTTPClient(HTTPOptions{})
	_, err = get(t, c, srv.URL)
	perr := TransportError("login", "GET", "/", err)
	if !errors.Is(perr, ErrBadConfig) || !strings.Contains(perr.Error(), "ca_file") {
		t.Fatalf("untrusted CA: %v", perr)
	}
	if strings.Contains(perr.Error(), srv.URL) {
		t.Fatalf("error repeats the URL: %v", perr)
	}

	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	c, _ = NewHTTPClient(HTTPOptions{InsecureSkipVerify: true, Logger: logger})
	if _, err := get(t, c, srv.URL); err != nil {
		t.Fatalf("insecure: %v", err)
	}
	if !strings.Contains(logs.String(), "insecure_skip_verify") {
		t.Fatalf("no warning for insecure: %q", logs.String())
	}
}

func TestNewHTTPClientBadCAFile(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	_ = os.WriteFile(junk, []byte("not a certificate"), 0o644)
	for _, path := range []string{junk, filepath.Join(dir, "missing.pem")} {
		if _, err := NewHTTPClient(HTTPOptions{CAFile: path}); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
	}
}

// TestNewHTTPClientCAPEM: a CA given as bytes (the Vault engine's
// storage) is trusted like a ca_file, and bytes that hold no certificate
// are bad configuration.
func TestNewHTTPClientCAPEM(t *testing.T) {
	srv, ca := tlsServer(t, http.HandlerFunc(ok))
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewHTTPClient(HTTPOptions{CAPEM: pem})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := get(t, c, srv.URL); err != nil || resp.StatusCode != 204 {
		t.Fatalf("verified with the CA PEM: %v", err)
	}
	if _, err := NewHTTPClient(HTTPOptions{CAPEM: []byte("not a certificate")}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("junk CA PEM: %v", err)
	}
}

func TestNoRedirects(t *testing.T) {
	var leaked atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c, _ := NewHTTPClient(HTTPOptions{})
	resp, err := c.Post(srv.URL+"/v1/tokens", "application/json", strings.NewReader(`{"password":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || leaked.Load() != 0 {
		t.Fatalf("redirect followed: status %d, hits %d", resp.StatusCode, leaked.Load())
	}
	if !errors.Is(StatusKind(resp.StatusCode), ErrBadConfig) {
		t.Fatal("3xx not classified as bad config")
	}
}

func TestTransportErrorsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(stall)

	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		_ = conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}))
	defer reset.Close()

	plain := httptest.NewServer(http.HandlerFunc(ok))
	defer plain.Close()

	tests := []struct {
		name string
		url  string
		kind error
	}{
		{"refused", refused, ErrUnavailable},
		{"timeout", slow.URL, ErrUnavailable},
		{"reset", reset.URL, ErrUnavailable},
		{"TLS to plain HTTP", strings.Replace(plain.URL, "http:", "https:", 1), ErrBadConfig},
	}
	impatient, _ := NewHTTPClient(HTTPOptions{Timeout: 200 * time.Millisecond})
	patient, _ := NewHTTPClient(HTTPOptions{Timeout: 10 * time.Second})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := patient
			if tc.name == "timeout" {
				c = impatient
			}
			_, err := get(t, c, tc.url)
			if err == nil {
				t.Fatal("no error")
			}
			if perr := TransportError("refresh access token", "GET", "/", err); !errors.Is(perr, tc.kind) {
				t.Fatalf("%v: not %v", perr, tc.kind)
			}
		})
	}
}

func TestStatusKind(t *testing.T) {
	tests := []struct {
		status int
		want   error
	}{
		{200, nil}, {201, nil}, {302, ErrBadConfig}, {400, nil}, {401, nil}, {403, ErrForbidden},
		{404, nil}, {429, ErrUnavailable}, {500, ErrUnavailable}, {502, ErrUnavailable}, {503, ErrUnavailable},
	}
	for _, tc := range tests {
		if got := StatusKind(tc.status); got != tc.want {
			t.Errorf("StatusKind(%d) = %v, want %v", tc.status, got, tc.want)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	pw := secret.New("hunter22")
	long := strings.Repeat("é", 300)
	tests := []struct{ in, want string }{
		{"bad password hunter22 for user", "bad password [REDACTED] for user"},
		{"  line1\nline2\t ", "line1 line2"},
		{long, long[:MaxMessage] + "…"},
	}
	for _, tc := range tests {
		if got := CleanMessage(tc.in, pw); got != tc.want {
			t.Errorf("CleanMessage(%.20q) = %.40q", tc.in, got)
		}
	}
}
