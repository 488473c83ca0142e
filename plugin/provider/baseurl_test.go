package provider

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

// TestBaseURL: only absolute http(s) URLs; requests keep the path prefix;
// messages never show user info or a query.
func TestBaseURL(t *testing.T) {
	for _, raw := range []string{"", "vcd.example.com", "ftp://vcd.example.com", "https://", "http://[::1"} {
		if _, err := ParseBaseURL(raw); !errors.Is(err, ErrBadConfig) {
			t.Errorf("ParseBaseURL(%q) = %v, want ErrBadConfig", raw, err)
		}
	}
	b, err := ParseBaseURL("https://u:pw@vcd.example.com:8443/prefix/?q=1")
	if err != nil {
		t.Fatal(err)
	}
	req, err := b.NewRequest(context.Background(), http.MethodGet, "/api/versions", nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.Host != "vcd.example.com:8443" || req.URL.Path != "/prefix/api/versions" {
		t.Errorf("request URL %s", req.URL)
	}
	if got := b.String(); got != "https://vcd.example.com:8443/prefix" {
		t.Errorf("String() = %q", got)
	}
	if got := b.Origin(); got != "https://vcd.example.com:8443" {
		t.Errorf("Origin() = %q", got)
	}
}
