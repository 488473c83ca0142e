// Command gohost is a Go host of the e2e tests (host/vault/e2e), built
// by them only: it
// launches tokenkeeper as a go-plugin child (the environment says whose
// runtime directory and Vault token) and calls an API of the simulator
// through host.Transport, once, then again after the simulator ended
// every access token: the Transport's invalidation must reach the
// engine for the second call to pass. It prints the two statuses as
// JSON, never a token.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

func main() {
	bin := flag.String("tokenkeeper", "tokenkeeper", "the tokenkeeper binary")
	cfg := flag.String("config", "", "the profiles file")
	profile := flag.String("profile", "sddc", "the profile")
	sim := flag.String("sim", "", "the simulator's URL")
	ca := flag.String("ca", "", "the simulator's CA file")
	path := flag.String("path", "/v1/domains", "the protected resource")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := run(ctx, *bin, *cfg, *profile, *sim, *ca, *path); err != nil {
		fmt.Fprintln(os.Stderr, "gohost:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, cfg, profile, sim, ca, path string) error {
	base, err := trusting(ca)
	if err != nil {
		return err
	}
	c, err := host.Launch(ctx, host.LaunchOptions{Path: bin, ConfigPath: cfg})
	if err != nil {
		return err
	}
	defer c.Close()
	api := &http.Client{Transport: &host.Transport{Source: c, Profile: profile, Base: base}}
	first, err := status(ctx, api, sim+path)
	if err != nil {
		return err
	}
	expire, _ := http.NewRequestWithContext(ctx, http.MethodPost, sim+"/_sim/expire", bytes.NewBufferString(`{"what":"access"}`))
	resp, err := (&http.Client{Transport: base}).Do(expire)
	if err != nil {
		return err
	}
	resp.Body.Close()
	second, err := status(ctx, api, sim+path)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]int{"first": first, "second": second})
}

func status(ctx context.Context, c *http.Client, url string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func trusting(caFile string) (*http.Transport, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}
