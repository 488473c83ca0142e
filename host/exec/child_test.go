package exec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun: the command's status passes through, a signal is 128+N, and a
// command that cannot start is 127 (not found) or 126 (not executable),
// as env(1) says.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		argv    []string
		code    int
		started bool
	}{
		{"status", []string{"sh", "-c", "exit 7"}, 7, true},
		{"killed by a signal", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15, true},
		{"missing path", []string{filepath.Join(dir, "nonexistent")}, ExitNotFound, false},
		{"not on PATH", []string{"tokenkeeper-no-such-program"}, ExitNotFound, false},
		{"not executable", []string{plain}, ExitNotExecutable, false},
		{"directory", []string{dir}, ExitNotExecutable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code, err := Run(tt.argv, os.Environ(), Stdio{In: strings.NewReader(""), Out: &out, ErrOut: &out})
			var se *StartError
			if tt.started {
				if err != nil || code != tt.code {
					t.Fatalf("= %d, %v; want %d", code, err, tt.code)
				}
				return
			}
			if !errors.As(err, &se) || se.Status != tt.code || !strings.HasPrefix(se.Error(), "could not run ") {
				t.Fatalf("= %d, %v; want a StartError of status %d", code, err, tt.code)
			}
		})
	}
}

// TestFail: the Error document only when asked, and one stderr line.
func TestFail(t *testing.T) {
	e := &Error{Code: CodeUnavailable, Message: "first\nsecond\n"}
	var out, errOut bytes.Buffer
	if code := Fail(&out, &errOut, e, true); code != ExitUnavailable {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), `"kind":"Error"`) || errOut.String() != "tokenkeeper: first ; second\n" {
		t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
	}
	out.Reset()
	Fail(&out, &errOut, e, false)
	if out.Len() != 0 {
		t.Fatalf("stdout %q, want nothing", out.String())
	}
}
