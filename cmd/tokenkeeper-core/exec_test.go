package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// TestExecWithoutCommand says what is missing and how exec is called.
func TestExecWithoutCommand(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	o := c.run(context.Background(), "", "exec", "-p", "sddc")
	if o.code != exec.ExitUsage || !strings.Contains(o.stderr, "none was given") ||
		!strings.Contains(o.stderr, "tokenkeeper exec --profile NAME") {
		t.Errorf("exit %d: %s", o.code, o.stderr)
	}
}

// TestExecCommandThatCannotRun: 127 not found, 126 not executable, as
// env(1); never 2, which means a usage error.
func TestExecCommandThatCannotRun(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		argv []string
		code int
	}{
		{"missing path", []string{filepath.Join(dir, "nonexistent")}, 127},
		{"not on PATH", []string{"tokenkeeper-no-such-program"}, 127},
		{"not executable", []string{plain}, 126},
		{"directory", []string{dir}, 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := c.run(context.Background(), "", append([]string{"exec", "-p", "sddc", "--no-agent", "--"}, tt.argv...)...)
			if o.code != tt.code || o.stdout != "" {
				t.Fatalf("exit %d, stdout %q; want %d and nothing", o.code, o.stdout, tt.code)
			}
			oneStderrLine(t, o)
		})
	}
}
