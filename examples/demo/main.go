// Command demo walks through the token lifecycle tokenkeeper owns, against
// the SDDC Manager simulator, as a Go host sees it: it launches the
// tokenkeeper binary as a go-plugin child and calls it through host.Client
// and host.Transport. It never prints a token, only fingerprints.
//
//	make demo     (builds bin/tokenkeeper and bin/tokenkeeper-sim first)
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// Short lifetimes so the whole lifecycle fits in a few seconds.
const (
	accessTTL  = 6 * time.Second
	refreshTTL = 30 * time.Second
	profile    = "sddc"
)

func main() {
	binDir := flag.String("bin", "bin", "directory holding tokenkeeper and tokenkeeper-sim")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	err := run(ctx, *binDir, os.Stdout)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// demo holds what the steps share.
type demo struct {
	out    io.Writer
	sim    *simulator
	client *host.Client
	api    *http.Client // authenticates through host.Transport
	start  time.Time
}

func run(ctx context.Context, binDir string, out io.Writer) error {
	dir, err := os.MkdirTemp("", "tokenkeeper-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	password := randomPassword()
	d := &demo{out: out, start: time.Now()}
	d.say("Starting the SDDC Manager simulator (HTTPS with its own CA; access tokens live %s, refresh tokens %s).", accessTTL, refreshTTL)
	d.sim, err = startSim(ctx, filepath.Join(binDir, "tokenkeeper-sim"), dir,
		"--user", "demo@vsphere.local="+password+":OPERATOR",
		"--access-ttl", accessTTL.String(), "--refresh-ttl", refreshTTL.String())
	if err != nil {
		return err
	}
	defer d.sim.stop()
	if err := d.launch(ctx, filepath.Join(binDir, "tokenkeeper"), dir, password); err != nil {
		return err
	}
	defer d.client.Close()
	for _, step := range []func(context.Context) error{d.login, d.callAPI, d.proactiveRefresh, d.refreshOn401, d.revoke} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	d.say("Done in %s. The simulator and the temporary files are cleaned up.", time.Since(d.start).Round(100*time.Millisecond))
	return nil
}

// launch writes the profiles file and starts tokenkeeper as a plugin.
func (d *demo) launch(ctx context.Context, path, dir, password string) error {
	cfg := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`profiles:
  %s:
    provider: vcf
    url: %s
    ca_file: %s
    username: demo@vsphere.local
    password: {env: DEMO_VCF_PASSWORD}
`, profile, d.sim.URL, d.sim.CAFile)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return err
	}
	d.say("Wrote a profiles file: profile %q, the password comes from the environment variable DEMO_VCF_PASSWORD.", profile)
	c, err := host.Launch(ctx, host.LaunchOptions{
		Path:       path,
		ConfigPath: cfg,
		Logger:     hclog.New(&hclog.LoggerOptions{Name: "tokenkeeper", Level: hclog.Warn, Output: os.Stderr}),
		// No safety-margin override: the keeper scales it down to a tenth
		// of these short lifetimes.
		Env: []string{"DEMO_VCF_PASSWORD=" + password},
	})
	if err != nil {
		return err
	}
	d.client = c
	d.api = &http.Client{Timeout: 10 * time.Second, Transport: &host.Transport{
		Source: c, Profile: profile, Base: narrating{d, d.sim.http.Transport},
	}}
	d.say("Launched %s as a go-plugin child (gRPC over a unix socket, mutual TLS).", path)
	return nil
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "demo-" + hex.EncodeToString(b)
}

// say prints one narration line with the elapsed time.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// narrating prints every request the Transport sends and its status.
type narrating struct {
	d    *demo
	base http.RoundTripper
}

func (n narrating) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := n.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	n.d.say("    HTTP %s %s -> %d", req.Method, req.URL.Path, resp.StatusCode)
	return resp, nil
}
