package host

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// testAgent is a real agent (agent.Listen, agent.Serve) serving svc on p
// until the test ends or it retires; stale retires it at its next call,
// as an agent whose profiles file changed.
type testAgent struct {
	stale atomic.Bool
	done  chan error
}

func serveAgent(t *testing.T, p paths.Agent, svc plugin.Service) *testAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	sock, err := agent.Listen(lctx, p, nil) // waits for a retiring predecessor's run lock
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	a := &testAgent{done: make(chan error, 1)}
	go func() {
		a.done <- agent.Serve(ctx, sock, agent.Options{
			Register: func(s *grpc.Server) { plugin.Register(s, svc, nil) },
			Stale:    a.stale.Load,
		})
	}()
	t.Cleanup(func() { cancel(); <-a.done })
	return a
}

func agentPaths(t *testing.T) paths.Agent {
	t.Helper()
	dir, err := os.MkdirTemp("", "tkr") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	root, err := paths.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Close() })
	p, err := paths.Locate(root, "/c.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDialSurvivesRetiringAgent: the agent retires at the first call
// after its profiles file changed ("this agent is exiting; retry"); a
// client of Dial runs the call once more on the agent that took over
// (started by DialOptions.Start, as the CLI does), and without one the
// error matches ErrNoAgent, so a Go host can launch its own helper.
func TestDialSurvivesRetiringAgent(t *testing.T) {
	ctx := context.Background()
	t.Run("successor", func(t *testing.T) {
		p := agentPaths(t)
		old := serveAgent(t, p, oneToken{})
		starts := 0
		c, err := DialWith(ctx, p.Socket, DialOptions{Start: func(context.Context) error {
			starts++
			serveAgent(t, p, oneToken{})
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Token(ctx, "p", TokenOptions{}); err != nil {
			t.Fatal(err)
		}
		old.stale.Store(true)
		tok, err := c.Token(ctx, "p", TokenOptions{})
		if err != nil || tok.Access.Reveal() != "tok" {
			t.Fatalf("Token after the agent retired = %+v, %v", tok, err)
		}
		if starts != 1 {
			t.Errorf("%d agents started, want 1", starts)
		}
		if _, err := c.Token(ctx, "p", TokenOptions{}); err != nil {
			t.Fatalf("next Token on the successor: %v", err)
		}
	})
	t.Run("none takes over", func(t *testing.T) {
		p := agentPaths(t)
		old := serveAgent(t, p, oneToken{})
		c, err := Dial(ctx, p.Socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		old.stale.Store(true)
		_, err = c.Token(ctx, "p", TokenOptions{})
		if !errors.Is(err, ErrNoAgent) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Token = %v, want ErrNoAgent and ErrUnavailable", err)
		}
	})
}

// downUpstream answers every Get as upstream unavailable, counting calls.
type downUpstream struct {
	oneToken
	calls atomic.Int32
}

func (d *downUpstream) Get(context.Context, string, keeper.GetOptions) (keeper.Token, error) {
	d.calls.Add(1)
	return keeper.Token{}, provider.ErrUnavailable
}

// TestDialDoesNotRetryAgentsVerdict: an agent that stays answers
// Unavailable for upstream; running the call again would only repeat it.
func TestDialDoesNotRetryAgentsVerdict(t *testing.T) {
	ctx := context.Background()
	p := agentPaths(t)
	svc := &downUpstream{}
	serveAgent(t, p, svc)
	c, err := DialWith(ctx, p.Socket, DialOptions{Start: func(context.Context) error {
		t.Error("an agent was started while one answers")
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Token(ctx, "p", TokenOptions{}); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNoAgent) {
		t.Fatalf("Token = %v, want ErrUnavailable only", err)
	}
	if n := svc.calls.Load(); n != 1 {
		t.Errorf("%d calls reached the agent, want 1", n)
	}
}
