//go:build linux || darwin

package agentconn

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// connServer listens on a fresh socket named name and hands every
// connection to serve, in a goroutine of its own, with its number (0 for
// the first); the connection is closed when serve returns.
func connServer(t *testing.T, name string, serve func(n int, c net.Conn)) string {
	t.Helper()
	sock := filepath.Join(shortRoot(t).Path(), name)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for n := 0; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(n, c)
			}()
		}
	}()
	return sock
}

// lineServer answers each connection on a fresh socket with
// answer(head, line): its header and request lines.
func lineServer(t *testing.T, answer func(head, line string) string) string {
	t.Helper()
	return connServer(t, "x.exec", func(_ int, c net.Conn) {
		r := bufio.NewReader(c)
		head, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = c.Write([]byte(answer(head, line)))
	})
}

func TestCall(t *testing.T) {
	got := make(chan [2]string, 1)
	sock := lineServer(t, func(head, line string) string { got <- [2]string{head, line}; return "{\"kind\":\"Token\"}\n" })
	ans, err := Call(time.Time{}, sock, []byte("{\n  \"kind\": \"TokenRequest\"\n}\n"))
	if err != nil || string(ans) != "{\"kind\":\"Token\"}\n" {
		t.Fatalf("Call = %q, %v", ans, err)
	}
	sent := <-got
	if sent[0] != `{"protocol":1}`+"\n" {
		t.Errorf("header %q, want protocol 1 and no timeout: ctx has no deadline", sent[0])
	}
	if sent[1] != "{\"kind\":\"TokenRequest\"}\n" {
		t.Fatalf("the agent got %q: want the request compacted to one line", sent[1])
	}
}

// TestCallSendsDeadline: the header carries what is left of ctx's
// deadline, which the agent's ParseHeader reads back.
func TestCallSendsDeadline(t *testing.T) {
	got := make(chan string, 1)
	sock := lineServer(t, func(head, _ string) string { got <- head; return "{}\n" })
	if _, err := Call(time.Now().Add(3*time.Second), sock, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	head := <-got
	d, err := ParseHeader([]byte(strings.TrimSuffix(head, "\n")))
	if err != nil || d <= 2*time.Second || d > 3*time.Second {
		t.Fatalf("header %q: timeout %s, %v; want what is left of 3s", head, d, err)
	}
}

func TestCallErrors(t *testing.T) {
	if _, err := Call(time.Time{}, filepath.Join(shortRoot(t).Path(), "none.exec"), []byte("{}")); !errors.Is(err, ErrNoAgent) {
		t.Errorf("no agent: %v, want ErrNoAgent", err)
	}
	bad := lineServer(t, func(string, string) string { return "{}\n{}\n" })
	if _, err := Call(time.Time{}, bad, []byte("{}")); !errors.Is(err, ErrBadAnswer) {
		t.Errorf("two lines: %v, want ErrBadAnswer", err)
	}
	mute := lineServer(t, func(string, string) string { return "" })
	if _, err := Call(time.Time{}, mute, []byte("{}")); !errors.Is(err, ErrBadAnswer) {
		t.Errorf("closed unanswered: %v, want ErrBadAnswer", err)
	}
	// An agent that still answers gave its own verdict: not ErrAgentLeft.
	down := lineServer(t, func(string, string) string {
		return `{"apiVersion":"tokenkeeper/v1","kind":"Error","error":{"code":"Unavailable","message":"upstream down","retryable":true}}` + "\n"
	})
	if ans, err := Call(time.Time{}, down, []byte("{}")); err != nil || !strings.Contains(string(ans), "upstream down") {
		t.Errorf("Unavailable from an agent still there: %q, %v", ans, err)
	}
}

// TestLocateFromNames: the front finds the agent the CLI locates, from
// the names file, and only while that file is as new as the
// configuration.
func TestLocateFromNames(t *testing.T) {
	dir := shortRoot(t)
	cfg := filepath.Join(dir.Path(), "config.yaml")
	mustWrite(t, cfg, "profiles: {}\n")
	env := []string{"PW=secret", "TOKENKEEPER_TOKEN=ignored"}
	if _, fresh, err := LocateFromNames(dir, cfg, env); err != nil || fresh {
		t.Fatalf("no names file: fresh %v, %v; want not fresh", fresh, err)
	}
	want, err := Locate(dir, cfg, []string{"PW"}, env)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a later modification time
	mustWrite(t, want.Names, "PW\n")
	got, fresh, err := LocateFromNames(dir, cfg, env)
	if err != nil || !fresh || got != want {
		t.Fatalf("LocateFromNames = %+v, %v, %v; want the CLI's %+v", got, fresh, err, want)
	}
	if other, _, _ := LocateFromNames(dir, cfg, []string{"PW=other"}); other.Exec == want.Exec {
		t.Fatal("another value of PW found the same agent")
	}
	time.Sleep(10 * time.Millisecond)
	mustWrite(t, cfg, "profiles: {}\n# edited\n")
	if _, fresh, err := LocateFromNames(dir, cfg, env); err != nil || fresh {
		t.Fatalf("config newer than the names file: fresh %v, %v; want not fresh", fresh, err)
	}
	time.Sleep(10 * time.Millisecond)
	mustWrite(t, want.Names, "")
	if got, fresh, err := LocateFromNames(dir, cfg, env); err != nil || !fresh || got.Tag != "" {
		t.Fatalf("empty names file: %+v, %v, %v; want the untagged agent", got, fresh, err)
	}
}

func mustWrite(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCallEndsAtDeadline: Call is bounded by its deadline
// alone, through socket timeouts: against an agent that never answers,
// one that dribbles its answer a byte at a time (each read gets what is
// left, so retries do not add up past the deadline), and with no time
// left at all (nothing is dialed).
func TestCallEndsAtDeadline(t *testing.T) {
	sock := connServer(t, "slow.exec", func(n int, c net.Conn) {
		for range 100 {
			time.Sleep(50 * time.Millisecond)
			if n == 1 { // the second call: dribbling
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	})
	for _, name := range []string{"mute", "dribbling"} {
		start := time.Now()
		_, err := Call(time.Now().Add(300*time.Millisecond), sock, []byte("{}"))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Errorf("%s agent: Call = %v after %s, want the deadline after 300ms", name, err, time.Since(start))
		}
	}
	if _, err := Call(time.Now().Add(-time.Second), sock, []byte("{}")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("past deadline: %v, want context.DeadlineExceeded", err)
	}
}

// TestCallReadsInPieces: an answer that arrives in several writes,
// within the deadline, is read whole.
func TestCallReadsInPieces(t *testing.T) {
	sock := connServer(t, "pieces.exec", func(_ int, c net.Conn) {
		for _, p := range []string{`{"kind":`, `"Token"`, "}\n"} {
			time.Sleep(20 * time.Millisecond)
			_, _ = c.Write([]byte(p))
		}
	})
	ans, err := Call(time.Now().Add(10*time.Second), sock, []byte("{}"))
	if err != nil || string(ans) != "{\"kind\":\"Token\"}\n" {
		t.Fatalf("Call = %q, %v", ans, err)
	}
}
