package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// writeConfig replaces the test's profiles file.
func (c *cliTest) writeConfig(yaml string) {
	c.t.Helper()
	if err := os.WriteFile(c.config, []byte(yaml), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// oneStderrLine fails unless stderr is exactly one "tokenkeeper: " line.
func oneStderrLine(t *testing.T, o outcome) {
	t.Helper()
	if strings.Count(o.stderr, "\n") != 1 || !strings.HasPrefix(o.stderr, "tokenkeeper: ") {
		t.Fatalf("stderr is not one line: %q", o.stderr)
	}
}

func errorDocument(t *testing.T, stdout string) exec.ErrorDocument {
	t.Helper()
	var doc exec.ErrorDocument
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || dec.More() || doc.Kind != exec.KindError {
		t.Fatalf("stdout is not one Error document: %v: %q", err, stdout)
	}
	return doc
}

// TestRawFormatsKeepStdoutEmptyOnFailure: `curl -H "$(tokenkeeper get
// --format header)"` must not send an error message upstream, and
// TOKEN=$(… --format token) must not capture one.
func TestRawFormatsKeepStdoutEmptyOnFailure(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	ctx := context.Background()
	for _, format := range []string{"token", "header", "env"} {
		for _, args := range [][]string{
			{"get", "-p", "nosuch", "--no-agent", "--format", format}, // NotFound, from the keeper
			{"get", "-p", "sddc", "--bogus", "--format", format},      // usage, from flag parsing
			{"get", "--format", format},                               // no request on stdin
		} {
			o := c.run(ctx, "", args...)
			if o.code != 2 || o.stdout != "" {
				t.Errorf("%v: exit %d, stdout %q: want 2 and nothing on stdout", args, o.code, o.stdout)
			}
			oneStderrLine(t, o)
		}
	}
	// json, explicit or by default, and a JSON request: the Error document.
	for _, args := range [][]string{{"get", "-p", "nosuch", "--no-agent", "--format", "json"}, {"get", "-p", "nosuch", "--no-agent"}} {
		if doc := errorDocument(t, c.run(ctx, "", args...).stdout); doc.Error.Code != exec.CodeNotFound {
			t.Errorf("%v: code %s", args, doc.Error.Code)
		}
	}
	o := c.run(ctx, `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"nosuch"}`, "get", "--no-agent")
	if doc := errorDocument(t, o.stdout); doc.Error.Code != exec.CodeNotFound {
		t.Errorf("stdin request: code %s", doc.Error.Code)
	}
}

// TestStdinRequestIsStrict: case variants and repeated keys are refused,
// and so are flags that the request on stdin would silently override.
func TestStdinRequestIsStrict(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"wrong case", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","PROFILE":"sddc"}`, []string{"get"}, `unknown field "PROFILE"`},
		{"duplicate", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"nosuch","profile":"sddc"}`, []string{"get"}, `field "profile" appears more than once`},
		{"numeric duration", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":600}`, []string{"get"}, `field "minValidity": must be a duration string like \"10m\"`},
		{"flag with request", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`, []string{"get", "--min-validity", "2h"}, "use either --profile and flags, or a JSON request on stdin"},
		{"force flag with request", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`, []string{"get", "--force-refresh"}, "use either --profile and flags"},
		{"invalidate flag with request", `{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"sddc","fingerprint":"f"}`, []string{"invalidate", "--reason", "x"}, "use either --profile and flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := c.run(context.Background(), tt.stdin, tt.args...)
			if o.code != 2 {
				t.Fatalf("exit %d, want 2: %s", o.code, o.stderr)
			}
			oneStderrLine(t, o)
			doc := errorDocument(t, o.stdout)
			want := strings.ReplaceAll(tt.want, `\"`, `"`)
			if doc.Error.Code != exec.CodeInvalidArgument || !strings.Contains(doc.Error.Message, want) {
				t.Fatalf("error %s %q, want InvalidArgument mentioning %q", doc.Error.Code, doc.Error.Message, want)
			}
		})
	}
}

// TestLockoutGuardRetryAt: when the guard refuses, the Error document
// says when it will try again — in-process and through the agent.
func TestLockoutGuardRetryAt(t *testing.T) {
	u := newUpstream(t)
	for _, agent := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-agent", true: "agent"}[agent], func(t *testing.T) {
			c := newCLITest(t, u, "wrong-pw-7")
			args := []string{"get", "-p", "sddc", "--no-agent"}
			if agent {
				c.startAgent()
				args = args[:3]
			}
			ctx := context.Background()
			if o := c.run(ctx, "", args...); o.code != 3 || errorDocument(t, o.stdout).Error.RetryAt != "" {
				t.Fatalf("first get: exit %d %q, want 3 Unauthenticated without retryAt", o.code, o.stdout)
			}
			before := time.Now()
			o := c.run(ctx, "", args...)
			doc := errorDocument(t, o.stdout)
			if o.code != 3 || doc.Error.Code != exec.CodeFailedPrecondition {
				t.Fatalf("second get: exit %d, %s: want 3, FailedPrecondition", o.code, doc.Error.Code)
			}
			at, err := time.Parse(time.RFC3339, doc.Error.RetryAt)
			if err != nil || !at.After(before) || at.After(before.Add(time.Hour)) {
				t.Fatalf("retryAt %q (%v): want an RFC 3339 time within the backoff", doc.Error.RetryAt, err)
			}
			if strings.Contains(o.stdout+o.stderr, "wrong-pw-7") {
				t.Fatal("the password leaked")
			}
		})
	}
}

// TestHelpAndFlagPolish covers the small promises of the help texts.
func TestHelpAndFlagPolish(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	ctx := context.Background()
	o := c.run(ctx, "", "--log-level", "verbose", "status")
	if o.code != 2 || !strings.Contains(o.stderr, "trace, debug, info, warn, error, off") {
		t.Errorf("--log-level verbose: exit %d %q", o.code, o.stderr)
	}
	v, vflag := c.run(ctx, "", "version"), c.run(ctx, "", "--version")
	if v.code != 0 || v.stdout != vflag.stdout || !strings.Contains(v.stdout, "plugin protocol: 1\n") || !strings.Contains(v.stdout, "commit: ") {
		t.Errorf("version %q and --version %q", v.stdout, vflag.stdout)
	}
	o = c.run(ctx, "", "completion", "tcsh")
	if o.code != 2 || o.stdout != "" || !strings.Contains(o.stderr, "unsupported shell tcsh (bash, zsh, fish, powershell)") {
		t.Errorf("completion tcsh: exit %d %q %q", o.code, o.stdout, o.stderr)
	}
	o = c.run(ctx, "", "get", "-p", "sddc", "extra-arg")
	if o.code != 2 || !strings.Contains(o.stderr, `unexpected argument "extra-arg"`) {
		t.Errorf("stray argument: exit %d %q", o.code, o.stderr)
	}
	o = c.run(ctx, "", "gte")
	if o.code != 2 || !strings.Contains(o.stderr, "unknown command \"gte\" for \"tokenkeeper\"\n\nDid you mean this?\n\tget\n") {
		t.Errorf("typo: exit %d %q", o.code, o.stderr)
	}
	for _, args := range [][]string{{"--help"}, {"exec", "--help"}} {
		help := c.run(ctx, "", args...).stdout
		if !strings.Contains(help, `"$TOKENKEEPER_HEADER_NAME: $TOKENKEEPER_HEADER_VALUE"`) || strings.Contains(help, `"Authorization: $TOKENKEEPER`) {
			t.Errorf("%v: the example hard-codes the header name", args)
		}
		if !strings.Contains(help, "~/.config/tokenkeeper/config.yaml") {
			t.Errorf("%v: --config does not list the ~/.config fallback", args)
		}
	}
}
