package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// runIn is run with stdin as a reader the test controls.
func (c *cliTest) runIn(ctx context.Context, stdin io.Reader, args ...string) outcome {
	var out, errb bytes.Buffer
	env := cliEnv{
		Stdin: stdin, Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return c.env[k] },
		Executable: "/nonexistent/tokenkeeper-must-not-be-spawned",
		Environ:    []string{"PATH=" + os.Getenv("PATH")},
	}
	code := runCLI(ctx, args, env)
	return outcome{code, out.String(), errb.String()}
}

// openPipe is a stdin that gets data and is never closed by its writer,
// as `sleep 8 | tokenkeeper get` or a caller that forgets to close.
func openPipe(t *testing.T, data string) io.Reader {
	t.Helper()
	r, w := io.Pipe()
	t.Cleanup(func() { _ = w.Close() })
	if data != "" {
		go func() { _, _ = w.Write([]byte(data)) }()
	}
	return r
}

// TestGetTimeoutBoundsStdin: `sleep 8 | tokenkeeper get --timeout 2s` took
// 8 s, and a stdin that never closed hung for ever. --timeout now bounds
// the read: exit 2 (the request never came: a bad request), with the cause.
func TestGetTimeoutBoundsStdin(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	o := c.runIn(ctx, openPipe(t, ""), "get", "--no-agent", "--timeout", "300ms")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("get --timeout 300ms answered after %s", d)
	}
	if o.code != 2 || !strings.Contains(o.stderr, "no complete TokenRequest on stdin in time (nothing arrived) before --timeout 300ms ran out; without --profile, the request is read from stdin") {
		t.Fatalf("exit %d, stderr %q; want 2 naming stdin and --timeout", o.code, o.stderr)
	}
	var doc struct{ Error struct{ Code string } }
	if err := json.Unmarshal([]byte(o.stdout), &doc); err != nil || doc.Error.Code != "InvalidArgument" {
		t.Fatalf("stdout %q: want an InvalidArgument Error document", o.stdout)
	}
}

// TestGetAnswersOpenStdin: one complete request on a stdin that stays open
// is answered at once, not when stdin closes.
func TestGetAnswersOpenStdin(t *testing.T) {
	u := newUpstream(t)
	c := newCLITest(t, u, testPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	o := c.runIn(ctx, openPipe(t, `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`+"\n"),
		"get", "--no-agent", "--timeout", "20s")
	if o.code != 0 {
		t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("answered after %s", d)
	}
	decodeToken(t, o.stdout)
}
