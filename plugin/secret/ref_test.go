package secret

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile creates dir/name with content and mode, fixing the mode after
// the umask.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkErr asserts err matches want (nil means success) and that neither
// the canary nor its fragments leak into the message.
func checkErr(t *testing.T, err error, want error, wantInMsg ...string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	msg := err.Error()
	if strings.Contains(msg, canary) || strings.Contains(msg, canary[:10]) {
		t.Fatalf("error message leaks the secret value (message length %d)", len(msg))
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q is not %v", msg, want)
	}
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %q is not a *secret.Error", msg)
	}
	for _, s := range wantInMsg {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not mention %q", msg, s)
		}
	}
}

func TestResolveEnv(t *testing.T) {
	env := map[string]string{"SET": canary, "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name      string
		ref       Ref
		want      string
		wantErr   error
		wantInMsg []string
	}{
		{"set", Ref{Env: "SET"}, canary, nil, nil},
		{"unset", Ref{Env: "UNSET"}, "", ErrNotFound, []string{"env UNSET", "not set"}},
		{"empty", Ref{Env: "EMPTY"}, "", ErrEmpty, []string{"env EMPTY", "empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ref.ResolveWith(t.Context(), lookup)
			checkErr(t, err, tt.wantErr, tt.wantInMsg...)
			if got.Reveal() != tt.want {
				t.Fatal("resolved value differs from the expected one")
			}
		})
	}
}

func TestResolveUsesRealEnvironment(t *testing.T) {
	t.Setenv("TOKENKEEPER_TEST_SECRET", canary)
	got, err := Ref{Env: "TOKENKEEPER_TEST_SECRET"}.Resolve(t.Context())
	checkErr(t, err, nil)
	if got.Reveal() != canary {
		t.Fatal("Resolve did not read the process environment")
	}
	got, err = Ref{Env: "TOKENKEEPER_TEST_SECRET"}.ResolveWith(t.Context(), nil)
	checkErr(t, err, nil)
	if got.Reveal() != canary {
		t.Fatal("ResolveWith(nil) did not read the process environment")
	}
}

func TestResolveFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		content   string
		mode      os.FileMode
		want      string
		wantErr   error
		wantInMsg []string
	}{
		{"plain", canary, 0o600, canary, nil, nil},
		{"one newline trimmed", canary + "\n", 0o600, canary, nil, nil},
		{"only one newline trimmed", canary + "\n\n", 0o600, canary + "\n", nil, nil},
		{"crlf trimmed", canary + "\r\n", 0o400, canary, nil, nil},
		{"spaces kept", " " + canary + " ", 0o600, " " + canary + " ", nil, nil},
		{"world readable", canary, 0o604, "", ErrInsecurePermissions, []string{"0604", "chmod 600"}},
		{"group readable", canary, 0o640, "", ErrInsecurePermissions, []string{"0640", "chmod 600"}},
		{"group and world readable", canary, 0o644, "", ErrInsecurePermissions, []string{"0644", "chmod 600"}},
		{"empty", "", 0o600, "", ErrEmpty, nil},
		{"only a newline", "\n", 0o600, "", ErrEmpty, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, dir, "s"+string(rune('a'+i)), tt.content, tt.mode)
			got, err := Ref{File: p}.Resolve(t.Context())
			checkErr(t, err, tt.wantErr, append(tt.wantInMsg, "file "+p)...)
			if got.Reveal() != tt.want {
				t.Fatal("resolved value differs from the expected one")
			}
		})
	}
}

func TestResolveFileFailures(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	_, err := Ref{File: missing}.Resolve(t.Context())
	checkErr(t, err, ErrNotFound, "file "+missing)

	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = Ref{File: dir}.Resolve(t.Context())
	if err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("reading a directory: got %v, want an error saying it is a directory", err)
	}

	big := writeFile(t, dir, "big", strings.Repeat("x", maxValueSize+1), 0o600)
	if _, err := (Ref{File: big}).Resolve(t.Context()); err == nil {
		t.Fatal("a file larger than the limit was accepted")
	}
}

func TestResolveInvalidRef(t *testing.T) {
	tests := []struct {
		name string
		ref  Ref
	}{
		{"zero", Ref{}},
		{"env and file", Ref{Env: "A", File: "/x"}},
		{"env and command", Ref{Env: "A", Command: []string{"true"}}},
		{"empty program", Ref{Command: []string{""}}},
		{"timeout on env", Ref{Env: "A", Timeout: time.Second}},
		{"negative timeout", Ref{Command: []string{"true"}, Timeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ref.ResolveWith(t.Context(), func(string) (string, bool) { return canary, true })
			checkErr(t, err, ErrInvalidRef)
			if err := tt.ref.Validate(); !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("Validate: got %v, want ErrInvalidRef", err)
			}
		})
	}
}

func TestRefString(t *testing.T) {
	tests := []struct {
		ref  Ref
		want string
	}{
		{Ref{Env: "VCF_PASSWORD"}, "env VCF_PASSWORD"},
		{Ref{File: "/run/x"}, "file /run/x"},
		{Ref{Command: []string{"pass", "show", canary}}, "command pass"},
		{Ref{}, "(invalid reference)"},
	}
	for _, tt := range tests {
		if got := tt.ref.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestResolveContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Ref{Command: []string{"sh", "-c", "echo " + canary}}.Resolve(ctx)
	checkErr(t, err, ErrCommandFailed)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want it to wrap context.Canceled", err)
	}
}
