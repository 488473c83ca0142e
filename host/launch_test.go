package host

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

func TestChildEnv(t *testing.T) {
	base := []string{"PATH=/bin", EnvConfig + "=/host.yaml", wire.Handshake.MagicCookieKey + "=stale"}
	got := childEnv(base, LaunchOptions{ConfigPath: "/mine.yaml", Env: []string{"VCF_PASSWORD=x"}})
	if got[len(got)-1] != EnvConfig+"=/mine.yaml" {
		t.Errorf("the configured path must come last to win over the host's: %q", got)
	}
	if !slices.Contains(got, "VCF_PASSWORD=x") || !slices.Contains(got, "PATH=/bin") {
		t.Errorf("env = %q", got)
	}
	for _, kv := range got {
		if kv == wire.Handshake.MagicCookieKey+"=stale" {
			t.Error("a stale magic cookie from the host's environment reached the child")
		}
	}
}

func TestLaunchFailures(t *testing.T) {
	script := filepath.Join(t.TempDir(), "not-a-plugin")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\nexit 3\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path string }{
		{"missing binary", filepath.Join(t.TempDir(), "nope")},
		{"not a plugin", script},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Launch(ctx, LaunchOptions{Path: tt.path, Logger: hclog.NewNullLogger()})
			if err == nil {
				_ = c.Close()
				t.Fatal("Launch succeeded")
			}
		})
	}
}
