package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// Every keeper shares the lockout guard through the runtime directory;
// without a private one the guard fails closed: every operation fails
// with the reason, loudly, so no login is attempted.
func TestGuardStore(t *testing.T) {
	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	xdg := t.TempDir()
	env := cliEnv{Getenv: func(k string) string { return map[string]string{"XDG_RUNTIME_DIR": xdg}[k] }}

	s, ok := guardStore(env, logger).(*guardfile.Store)
	if !ok || s.Path() != filepath.Join(xdg, "tokenkeeper", guardfile.StateFile) {
		t.Fatalf("guard store %T in the wrong place", s)
	}
	if err := os.Chmod(filepath.Join(xdg, "tokenkeeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := provider.Account{Provider: "vcf", Origin: "https://h:443", Kind: provider.KindUser, Principal: "u"}
	g := guardStore(env, logger)
	if _, err := g.LockLogin(context.Background(), a); err == nil || !strings.Contains(err.Error(), "XDG_RUNTIME_DIR") {
		t.Fatalf("a guard store in a directory others can read: LockLogin %v, want an error with the fix", err)
	}
	if !strings.Contains(logs.String(), "[ERROR]") || !strings.Contains(logs.String(), "no login can be attempted") {
		t.Fatalf("no error logged: %q", logs.String())
	}
}
