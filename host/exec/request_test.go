package exec

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestResolveGet: where get's request comes from — the flag, the
// variable, or stdin — and which flag combinations are refused
// (TOKENKEEPER_PROFILE rules of docs/exec-protocol.md).
func TestResolveGet(t *testing.T) {
	req := `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"fromstdin","minValidity":"1m","allowShorter":true}`
	tests := []struct {
		name               string
		flag, env, stdin   string
		terminal           bool
		set                []string
		profile, errPart   string
		fromStdin, shorter bool
	}{
		{name: "flag wins", flag: "a", env: "b", stdin: req, profile: "a"},
		{name: "request on stdin", stdin: req, profile: "fromstdin", fromStdin: true, shorter: true},
		{name: "request wins over the variable", env: "b", stdin: req, profile: "fromstdin", fromStdin: true, shorter: true},
		{name: "variable when stdin is empty", env: "b", profile: "b"},
		{name: "variable when stdin is a terminal", env: "b", stdin: req, terminal: true, profile: "b"},
		{name: "variable and flags", env: "b", set: []string{"min-validity"}, profile: "b"},
		{name: "flags with a request", stdin: req, set: []string{"min-validity"}, errPart: "--min-validity without --profile"},
		{name: "flags without anything", set: []string{"force-refresh"}, errPart: "--force-refresh without --profile"},
		{name: "variable, flags and a request", env: "b", stdin: req, set: []string{"allow-shorter"}, errPart: "--allow-shorter without --profile"},
		{name: "nothing at all", errPart: "no --profile given and no TokenRequest on stdin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Set: func(n string) bool { return contains(tt.set, n) }, EnvProfile: tt.env,
				Stdin: strings.NewReader(tt.stdin), StdinTerminal: tt.terminal, Timeout: time.Second}
			got, fromStdin, err := ResolveGet(context.Background(), in, tt.flag)
			if tt.errPart != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeInvalidArgument || !strings.Contains(e.Message, tt.errPart) {
					t.Fatalf("err = %v, want InvalidArgument with %q", err, tt.errPart)
				}
				return
			}
			if err != nil || got.Profile != tt.profile || fromStdin != tt.fromStdin || got.AllowShorter != tt.shorter {
				t.Fatalf("= %+v, %v, %v; want profile %q fromStdin %v shorter %v", got, fromStdin, err, tt.profile, tt.fromStdin, tt.shorter)
			}
		})
	}
}

// TestResolveGetLateRequest names --timeout when the request did not come.
func TestResolveGetLateRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	in := Input{Set: func(string) bool { return false }, Stdin: blockingReader{}, Timeout: 10 * time.Millisecond}
	_, _, err := ResolveGet(ctx, in, "")
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidArgument || !strings.Contains(e.Message, "before --timeout 10ms ran out") {
		t.Fatalf("err = %v", err)
	}
}

type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) { select {} }

func TestResolveInvalidate(t *testing.T) {
	req := `{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"p","fingerprint":"sha256:1"}`
	none := func(string) bool { return false }
	in := Input{Set: none, Stdin: strings.NewReader(req)}
	if got, err := ResolveInvalidate(context.Background(), in, InvalidateRequest{}); err != nil || got.Profile != "p" || got.Fingerprint != "sha256:1" {
		t.Fatalf("from stdin: %+v, %v", got, err)
	}
	if _, err := ResolveInvalidate(context.Background(), in, InvalidateRequest{Profile: "p"}); err == nil || !strings.Contains(err.Error(), "--fingerprint is required") {
		t.Fatalf("profile without fingerprint: %v", err)
	}
	in.Set = func(n string) bool { return n == "reason" }
	if _, err := ResolveInvalidate(context.Background(), in, InvalidateRequest{}); err == nil || !strings.Contains(err.Error(), "--reason without --profile") {
		t.Fatalf("reason with a request: %v", err)
	}
}

func TestDefaultProfile(t *testing.T) {
	if p, err := DefaultProfile("", "env"); p != "env" || err != nil {
		t.Errorf("= %q, %v", p, err)
	}
	if p, err := DefaultProfile("flag", "env"); p != "flag" || err != nil {
		t.Errorf("= %q, %v", p, err)
	}
	if _, err := DefaultProfile("", ""); !errors.Is(err, ErrProfileRequired) {
		t.Errorf("err = %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
