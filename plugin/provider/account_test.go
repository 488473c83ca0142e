package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

func TestOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://SDDC.Example.COM", "https://sddc.example.com:443"},
		{"https://sddc.example.com.:443/ui/", "https://sddc.example.com:443"},
		{"HTTP://h", "http://h:80"},
		{"https://127.0.0.1:8443", "https://localhost:8443"},
		{"https://localhost:8443", "https://localhost:8443"},
		{"https://LOCALHOST:8443", "https://localhost:8443"},
		{"https://[::1]:8443", "https://localhost:8443"},
		{"https://vcd.localhost:8443", "https://localhost:8443"},
		{"https://10.0.0.5", "https://10.0.0.5:443"},
		{"https://[2001:DB8::1]:9443", "https://[2001:db8::1]:9443"},
	}
	for _, tt := range tests {
		if got, err := Origin(tt.in); err != nil || got != tt.want {
			t.Errorf("Origin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "sddc", "ftp://h", "https://"} {
		if got, err := Origin(bad); !errors.Is(err, ErrBadConfig) {
			t.Errorf("Origin(%q) = %q, %v; want ErrBadConfig", bad, got, err)
		}
	}
}

func TestAccountID(t *testing.T) {
	u := Account{Provider: "vcf", Origin: "https://h:443", Kind: KindUser, Principal: "svc@vsphere.local"}
	if got := u.ID("ignored"); got != "vcf https://h:443 user:svc@vsphere.local" {
		t.Errorf("user ID %q", got)
	}
	k := Account{Provider: "vcd", Origin: "https://h:443", Kind: KindAPIToken, Material: secret.New("tok")}
	if got := k.ID("abcd"); got != "vcd https://h:443 api-token:abcd" {
		t.Errorf("keyed ID %q", got)
	}
	if s := k.String(); s != "api token at https://h:443" {
		t.Errorf("String %q", s)
	}
}

// Only a request that never got a connection is marked ErrNotSent: a
// refused connection and a failed TLS handshake are; a connection that
// the server drops after reading the request is not.
func TestNotSentOnlyBeforeTheRequestLeft(t *testing.T) {
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		return "http://" + addr
	}()
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		_ = conn.Close()
	}))
	defer drop.Close()
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer untrusted.Close()
	stall := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(time.Second) }))
	defer stall.Close()

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		notSent bool
	}{
		{"connection refused", refused, 0, true},
		{"untrusted certificate", untrusted.URL, 0, true},
		{"dropped after the request", drop.URL, 0, false},
		{"timed out after the request", stall.URL, 200 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, err := NewHTTPClient(HTTPOptions{Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, tt.url+"/v1/tokens", nil)
			resp, err := hc.Do(req)
			if err == nil {
				_ = resp.Body.Close()
				t.Fatal("the request succeeded")
			}
			perr := TransportError("login", "POST", "/v1/tokens", err)
			if got := errors.Is(perr, ErrNotSent); got != tt.notSent {
				t.Fatalf("ErrNotSent = %v, want %v (%v)", got, tt.notSent, perr)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	h := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	tests := []struct {
		status int
		h      http.Header
		want   time.Duration
	}{
		{503, h("120"), 2 * time.Minute},
		{429, h("Sun, 22 Nov 2026 12:05:00 GMT"), 5 * time.Minute},
		{503, h("99999"), MaxRetryAfter},
		{503, h("soon"), 0},
		{500, h("120"), 0},
		{503, http.Header{}, 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.status, tt.h, now); got != tt.want {
			t.Errorf("RetryAfter(%d, %v) = %v, want %v", tt.status, tt.h, got, tt.want)
		}
	}
}

func TestEchoesPart(t *testing.T) {
	pw := secret.New("Demo-Passw0rd")
	for _, msg := range []string{"bad password demo", "DEMO-PASSW0RD", "got 'passw' from you", "...w0rd"} {
		if !EchoesPart(msg, pw) {
			t.Errorf("EchoesPart(%q) = false", msg)
		}
	}
	for _, msg := range []string{"Invalid username or pw", "dem", "nothing"} {
		if EchoesPart(msg, pw) {
			t.Errorf("EchoesPart(%q) = true", msg)
		}
	}
}
