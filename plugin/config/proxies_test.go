package config

import (
	"strings"
	"testing"
	"time"
)

const proxiesBase = `profiles:
  sddc:
    provider: vcf
    url: https://sddc.example.com
    username: svc
    password: {env: VCF_PASSWORD}
`

func TestProxies(t *testing.T) {
	cfg, err := Parse([]byte(proxiesBase+`proxies:
  sddc:
    listen: 127.0.0.1:8443
    require_header: X-Tokenkeeper-Proxy
    timeout: 2m
`), "")
	if err != nil {
		t.Fatal(err)
	}
	want := Proxy{Profile: "sddc", Listen: "127.0.0.1:8443", RequireHeader: "X-Tokenkeeper-Proxy", Timeout: 2 * time.Minute, Line: 8}
	if len(cfg.Proxies) != 1 || cfg.Proxies[0] != want {
		t.Fatalf("proxies = %+v, want %+v", cfg.Proxies, want)
	}
	cfg, err = Parse([]byte(proxiesBase+"proxies:\n  sddc:\n"), "")
	if err != nil || len(cfg.Proxies) != 1 || cfg.Proxies[0].Listen != "" {
		t.Fatalf("an empty entry: %+v, %v", cfg.Proxies, err)
	}
}

func TestProxiesErrors(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"unknown profile", "proxies:\n  vcd: {}\n", `f.yaml:8: field "proxies.vcd": names no profile`},
		{"unknown key", "proxies:\n  sddc: {lisen: 127.0.0.1:1}\n", `did you mean "listen"`},
		{"not a mapping", "proxies: [sddc]\n", "must be a mapping of profile names"},
		{"short timeout", "proxies:\n  sddc: {timeout: 1ms}\n", "timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(proxiesBase+tt.yaml), "f.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}
