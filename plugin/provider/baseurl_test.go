package provider

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestBaseURL: only absolute http(s) URLs without user info, query or
// fragment; errors never echo a password; requests keep the path prefix.
func TestBaseURL(t *testing.T) {
	const canary = "canary-pw-51c0"
	for _, raw := range []string{"", "vcd.example.com", "ftp://vcd.example.com", "https://", "http://[::1",
		"ftp://admin:" + canary + "@vcd.example.com", "https://admin:" + canary + "@vcd.example.com",
		"https://vcd.example.com/?q=1", "https://vcd.example.com/#top", "https://vcd.example.com/?",
		"https://admin:" + canary + "@vcd.example.com/?q=1", "http://[::1" + canary} {
		_, err := ParseBaseURL(raw)
		if !errors.Is(err, ErrBadConfig) {
			t.Errorf("ParseBaseURL(%q) = %v, want ErrBadConfig", raw, err)
		}
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Errorf("ParseBaseURL's error shows the password: %v", err)
		}
	}
	b, err := ParseBaseURL("https://vcd.example.com:8443/prefix/")
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
