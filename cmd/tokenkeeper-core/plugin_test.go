package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

func envOf(vars map[string]string, stdout, stderr *bytes.Buffer) cliEnv {
	return cliEnv{
		Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr,
		Getenv: func(k string) string { return vars[k] },
	}
}

func TestWithoutCookieNoArgsPrintsUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, envOf(map[string]string{"HOME": t.TempDir()}, &stdout, &stderr))
	out := stdout.String() + stderr.String()
	if code != 0 || !strings.Contains(out, "Usage:") {
		t.Errorf("exit %d, output %q: want usage and exit 0", code, out)
	}
	if strings.Contains(out, "This binary is a plugin") {
		t.Error("a person running tokenkeeper without arguments got go-plugin's warning")
	}
}

func TestPluginModeFailuresStayOffStdout(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("profiles:\n  x:\n    provider: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("profiles:\n  x:\n    provider: vcf\n    url: https://x.example\n    username: u\n    password: {env: P}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"no config anywhere", map[string]string{}, nil},
		{"missing file", map[string]string{"TOKENKEEPER_CONFIG": filepath.Join(dir, "none.yaml")}, nil},
		{"invalid file via --config", map[string]string{}, []string{"--config", bad}},
		{"bad safety margin", map[string]string{"TOKENKEEPER_CONFIG": good, envSafetyMargin: "soon"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.vars[wire.Handshake.MagicCookieKey] = wire.Handshake.MagicCookieValue
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, envOf(tt.vars, &stdout, &stderr))
			if code == 0 || stdout.Len() != 0 {
				t.Fatalf("exit %d, stdout %q: want a failure and nothing on stdout", code, stdout.String())
			}
			var line map[string]any
			if err := json.Unmarshal(bytes.TrimSpace(stderr.Bytes()), &line); err != nil || line["@level"] != "error" {
				t.Errorf("stderr %q is not one hclog JSON error line", stderr.String())
			}
			if tt.vars[envSafetyMargin] != "" && !strings.Contains(stderr.String(), envSafetyMargin) {
				t.Errorf("stderr %q does not name %s", stderr.String(), envSafetyMargin)
			}
		})
	}
}

func TestPluginConfigPath(t *testing.T) {
	env := func(k string) string { return map[string]string{"TOKENKEEPER_CONFIG": "/env.yaml"}[k] }
	tests := []struct {
		args []string
		want string
	}{
		{nil, "/env.yaml"},
		{[]string{"--config", "/a.yaml"}, "/a.yaml"},
		{[]string{"--config=/b.yaml"}, "/b.yaml"},
		{[]string{"--config"}, "/env.yaml"},
	}
	for _, tt := range tests {
		if got := pluginConfigPath(tt.args, env); got != tt.want {
			t.Errorf("pluginConfigPath(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestBuildKeeperVaultURL: the status of a provider vault profile
// names where its tokens come from, the vault block's address and the
// engine's token path, though the profile has no url of its own.
func TestBuildKeeperVaultURL(t *testing.T) {
	cfg, err := config.Parse([]byte(`vault:
  address: https://vault.example:8200
  token: {env: VAULT_TOKEN}
profiles:
  sddc:
    provider: vault
    mount: tokenkeeper
    name: sddc
`), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	xdg := t.TempDir()
	env := cliEnv{Getenv: func(k string) string { return map[string]string{"XDG_RUNTIME_DIR": xdg}[k] }}
	k, err := buildKeeper(cfg, nil, env)
	if err != nil {
		t.Fatalf("buildKeeper: %v", err)
	}
	defer k.Close(context.Background())
	if st := k.Status(); len(st) != 1 || st[0].URL != "https://vault.example:8200/v1/tokenkeeper/token/sddc" {
		t.Fatalf("status %+v, want the engine's token URL", st)
	}
}

func TestBuildKeeper(t *testing.T) {
	cfg, err := config.Parse([]byte(`profiles:
  sddc:
    provider: vcf
    url: https://sddc.example
    username: svc@vsphere.local
    password: {env: VCF_PASSWORD}
  tenant:
    provider: vcd
    url: https://vcd.example
    org: ExampleOrg
    api_token: {env: VCD_TOKEN}
`), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tuned bool
	xdg := t.TempDir()
	env := cliEnv{Getenv: func(k string) string { return map[string]string{"XDG_RUNTIME_DIR": xdg}[k] }}
	k, err := buildKeeper(cfg, nil, env, func(o *keeper.Options) { tuned = true; o.SafetyMargin = time.Second })
	if err != nil {
		t.Fatalf("buildKeeper: %v", err)
	}
	defer k.Close(context.Background())
	st := k.Status()
	if !tuned || len(st) != 2 || st[0].Profile != "sddc" || st[0].Provider != "vcf" || st[1].Provider != "vcd" {
		t.Errorf("tuned=%v status=%+v", tuned, st)
	}
	if _, err := safetyMargin("-1s"); err == nil {
		t.Error("a negative safety margin was accepted")
	}
}
