package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// echoExec answers every line with a JSON document quoting it; a line
// "slow" waits until release is closed.
type echoExec struct {
	release chan struct{}
	calls   atomic.Int32
}

func (e *echoExec) Answer(ctx context.Context, line []byte) ([]byte, bool) {
	e.calls.Add(1)
	if string(line) == "slow" {
		select {
		case <-e.release:
		case <-ctx.Done():
		}
	}
	b, _ := json.Marshal(map[string]string{"kind": "Echo", "line": string(line)})
	return append(b, '\n'), true
}

// execAgent serves an agent with exec handler x and the options o on a
// fresh socket, and returns its paths and a wait for Serve to return.
func execAgent(t testing.TB, x ExecHandler, o Options) (paths.Agent, func(limit time.Duration, what string) error) {
	t.Helper()
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	s, err := Listen(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Exec = x
	return p, serveExecAgent(t, s, o)
}

// serveExecAgent runs Serve on s until the test ends, and waits for it
// then, before the runtime directory closes.
func serveExecAgent(t testing.TB, s *Socket, o Options) func(limit time.Duration, what string) error {
	t.Helper()
	o.Register = func(g *grpc.Server) { healthpb.RegisterHealthServer(g, health.NewServer()) }
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, s, o) }()
	var once sync.Once
	var result error
	wait := func(limit time.Duration, what string) error {
		once.Do(func() {
			select {
			case result = <-served:
			case <-time.After(limit):
				cancel()
				<-served
				t.Errorf("Serve did not exit within %s after %s", limit, what)
			}
		})
		return result
	}
	t.Cleanup(func() { cancel(); _ = wait(10*time.Second, "the test ended") })
	return wait
}

// rawCall writes data to the exec socket and returns all it reads back.
func rawCall(t *testing.T, socket string, data []byte) string {
	return rawCallClosing(t, socket, data, false)
}

// rawCallClosing is rawCall that, with halfClose, closes the write side
// after data.
func rawCallClosing(t *testing.T, socket string, data []byte, halfClose bool) string {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, werr := c.Write(data) // an agent that refuses closes first
	if halfClose {
		_ = c.(*net.UnixConn).CloseWrite()
	}
	b, err := io.ReadAll(c)
	if err != nil && werr == nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

// hdr is the header line of a call without a deadline.
const hdr = `{"protocol":1}` + "\n"

func TestExecFraming(t *testing.T) {
	x := &echoExec{release: make(chan struct{})}
	p, _ := execAgent(t, x, Options{ExecReadTimeout: 200 * time.Millisecond})
	tests := []struct {
		name, send, want string
	}{
		{"one line", hdr + "hello\n", `{"kind":"Echo","line":"hello"}` + "\n"},
		{"half-closed without newline", hdr + "hello", `{"kind":"Echo","line":"hello"}` + "\n"},
		{"oversized line", hdr + strings.Repeat("x", 70<<10) + "\n", `"request is larger than 65536 bytes"`},
		{"partial line times out", hdr + "{\"apiVer", "no complete request line within 200ms"},
		{"no header", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p"}` + "\n" + "hello\n",
			`exec socket: not an exec protocol header: send {\"protocol\":1} first`},
		{"another version", `{"protocol":2}` + "\n" + "hello\n", "protocol 2, this agent speaks 1"},
		{"bad timeout", `{"protocol":1,"timeout":"-3s"}` + "\n" + "hello\n", "the timeout must be a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rawCallClosing(t, p.Exec, []byte(tt.send), tt.name == "half-closed without newline")
			if !strings.Contains(got, tt.want) {
				t.Fatalf("answer %.200q, want it to hold %q", got, tt.want)
			}
			if strings.Contains(tt.want, "Error") || !strings.HasPrefix(tt.want, "{") {
				var doc struct{ Kind, APIVersion string }
				if err := json.Unmarshal([]byte(got), &doc); err != nil || doc.Kind != "Error" || doc.APIVersion != "tokenkeeper/v1" {
					t.Fatalf("not an Error document: %.200q (%v)", got, err)
				}
			}
		})
	}
	if n := x.calls.Load(); n != 2 {
		t.Errorf("%d calls reached the handler, want 2: a call without a valid header reaches none", n)
	}
}

// deadlineExec answers every call with the time left on its context.
type deadlineExec struct{}

func (deadlineExec) Answer(ctx context.Context, _ []byte) ([]byte, bool) {
	d, ok := ctx.Deadline()
	b, _ := json.Marshal(map[string]any{"kind": "Left", "ms": time.Until(d).Milliseconds(), "ok": ok})
	return append(b, '\n'), true
}

// TestExecCallerDeadline: the agent bounds a call by what is left of the
// caller's deadline (agentconn.Call sends it in the header), as gRPC
// does with grpc-timeout, so the keeper can answer before the caller
// gives up; a caller without a deadline gets ExecCallTimeout.
func TestExecCallerDeadline(t *testing.T) {
	p, _ := execAgent(t, deadlineExec{}, Options{})
	for _, tt := range []struct {
		name     string
		timeout  time.Duration // 0: no deadline
		min, max time.Duration
	}{
		{"3s", 3 * time.Second, 2 * time.Second, 3 * time.Second},
		{"no deadline", 0, ExecCallTimeout - 10*time.Second, ExecCallTimeout},
		{"10m", 10 * time.Minute, 9 * time.Minute, 10 * time.Minute},
	} {
		var deadline time.Time
		if tt.timeout != 0 {
			deadline = time.Now().Add(tt.timeout)
		}
		ans, err := agentconn.Call(deadline, p.Exec, []byte("x"))
		var got struct {
			MS int64
			OK bool
		}
		if err != nil || json.Unmarshal(ans, &got) != nil {
			t.Fatalf("%s: %q, %v", tt.name, ans, err)
		}
		if left := time.Duration(got.MS) * time.Millisecond; !got.OK || left < tt.min || left > tt.max {
			t.Errorf("%s: the call in the agent had %s left (deadline %v), want %s to %s", tt.name, left, got.OK, tt.min, tt.max)
		}
	}
}

// TestExecSlowCallHoldsNoOneUp: a call that takes long (a login) and a
// client that sends half a line do not delay other callers.
func TestExecSlowCallHoldsNoOneUp(t *testing.T) {
	x := &echoExec{release: make(chan struct{})}
	p, _ := execAgent(t, x, Options{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _ = rawCall(t, p.Exec, []byte("slow\n")) })
	}
	stalled, err := net.Dial("unix", p.Exec)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	_, _ = io.WriteString(stalled, `{"apiVer`)
	for i := range 20 {
		start := time.Now()
		ans, err := agentconn.Call(time.Now().Add(5*time.Second), p.Exec, []byte("quick"))
		if err != nil || !strings.Contains(string(ans), `"line":"quick"`) {
			t.Fatalf("call %d beside slow ones: %q, %v", i, ans, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("call %d took %s beside slow ones", i, d)
		}
	}
	close(x.release)
	wg.Wait()
}

// TestExecRefusesOtherUID: the exec socket accepts only peers of the
// agent's uid, as the gRPC socket does: another's connection is closed
// unanswered and its request never reaches the handler.
func TestExecRefusesOtherUID(t *testing.T) {
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	s, err := Listen(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.exec.uid != uint32(os.Getuid()) {
		t.Fatalf("the exec socket of Listen serves uid %d, not this one", s.exec.uid)
	}
	s.exec.uid = uint32(os.Getuid()) + 1 // the caller now counts as another user
	x := &echoExec{}
	serveExecAgent(t, s, Options{Exec: x})
	if got := rawCall(t, p.Exec, []byte("hello\n")); got != "" {
		t.Fatalf("a peer of another uid got %q", got)
	}
	if n := x.calls.Load(); n != 0 {
		t.Fatalf("%d calls of another uid reached the handler", n)
	}
}

// TestExecRetiresOnStaleConfig: once the configuration changed, an exec
// call retires the agent as a gRPC call does — both sockets are gone
// when the answer, Unavailable "this agent is exiting", arrives, so
// agentconn.Call reports ErrAgentLeft — and Serve exits.
func TestExecRetiresOnStaleConfig(t *testing.T) {
	var stale atomic.Bool
	x := &echoExec{}
	p, served := execAgent(t, x, Options{Stale: stale.Load})
	if _, err := agentconn.Call(time.Now().Add(5*time.Second), p.Exec, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	stale.Store(true)
	ans, err := agentconn.Call(time.Now().Add(5*time.Second), p.Exec, []byte("hello"))
	if !errors.Is(err, agentconn.ErrAgentLeft) || !strings.Contains(string(ans), `"code":"Unavailable"`) ||
		!strings.Contains(string(ans), "this agent is exiting") {
		t.Fatalf("call after the config changed: %q, %v; want ErrAgentLeft and Unavailable", ans, err)
	}
	if err := served(5*time.Second, "the configuration changed"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.Socket, p.Exec} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	if n := x.calls.Load(); n != 1 {
		t.Errorf("%d calls reached the handler, want 1: a retiring agent answers none", n)
	}
}

// TestExecCallKeepsAgentAlive: exec calls count as activity for the
// idle timer, as gRPC calls do; without them the agent idles out.
func TestExecCallKeepsAgentAlive(t *testing.T) {
	p, served := execAgent(t, &echoExec{}, Options{IdleTimeout: 400 * time.Millisecond})
	for range 8 {
		time.Sleep(100 * time.Millisecond)
		if _, err := agentconn.Call(time.Now().Add(5*time.Second), p.Exec, []byte("ping")); err != nil {
			t.Fatalf("the agent idled out while exec calls came every 100ms: %v", err)
		}
	}
	if err := served(5*time.Second, "the idle timeout"); err != nil {
		t.Fatal(err)
	}
}

// TestExecNilClosesSocket: an agent without an exec handler leaves no
// exec socket, so a front finds no agent there and asks the full binary.
func TestExecNilClosesSocket(t *testing.T) {
	p, _ := execAgent(t, nil, Options{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := agentconn.Call(time.Now().Add(time.Second), p.Exec, []byte("x"))
		if errors.Is(err, agentconn.ErrNoAgent) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec socket still answering without a handler: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
