package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
)

// Every keeper shares the lockout guard through the runtime directory;
// without a private one it falls back to this process, with a warning.
func TestGuardStore(t *testing.T) {
	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	xdg := t.TempDir()
	env := cliEnv{Now: time.Now, Getenv: func(k string) string { return map[string]string{"XDG_RUNTIME_DIR": xdg}[k] }}

	s, ok := guardStore(env, logger).(*guardfile.Store)
	if !ok || s.Path() != filepath.Join(xdg, "tokenkeeper", guardfile.StateFile) {
		t.Fatalf("guard store %T in the wrong place", s)
	}
	if err := os.Chmod(filepath.Join(xdg, "tokenkeeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if g := guardStore(env, logger); g != nil {
		t.Fatalf("a guard store %T in a directory others can read", g)
	}
	if !strings.Contains(logs.String(), "lockout guard kept in this process only") {
		t.Fatalf("no warning: %q", logs.String())
	}
}
