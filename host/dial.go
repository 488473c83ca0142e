package host

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// ErrNoAgent: nothing answers on the agent socket.
var ErrNoAgent = agentconn.ErrNoAgent

// DialOptions tune DialWith.
type DialOptions struct {
	// Start, if set, starts an agent when none answers — at dial time,
	// and when the agent retires during a call — and returns once one
	// answers. Nil never starts one (Dial): the CLI starts agents
	// (`tokenkeeper get`), a Go host launches its own helper instead.
	Start func(ctx context.Context) error
}

// Dial connects to a running agent on socketPath and returns the same
// Client Launch returns. It fails with ErrNoAgent at once when nothing
// listens there, rather than letting the first call wait; it never starts
// an agent (`tokenkeeper get` does). Every connection checks that the
// agent runs as this uid.
//
// A call that fails as unavailable because the agent went away — it
// retires at the first call after its profiles file changed ("this agent
// is exiting; retry to start a new one"), or idled out just then — runs
// once more on the agent that listens on the socket now. When none does,
// the error matches both ErrUnavailable and ErrNoAgent: a host that
// launches its own helper when no agent runs does so then too.
func Dial(ctx context.Context, socketPath string) (*Client, error) {
	return DialWith(ctx, socketPath, DialOptions{})
}

// DialWith is Dial with options: with o.Start it finds or starts the
// agent, and starts a successor when the agent retires during a call.
func DialWith(ctx context.Context, socketPath string, o DialOptions) (*Client, error) {
	l := &agentLink{finder: agentconn.Finder{Socket: socketPath, Start: o.Start}}
	cc, closeFn, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	c := NewClient(cc, closeFn)
	c.agent = l
	return c, nil
}

// agentLink is the agent behind a Client that Dial made.
type agentLink struct {
	finder agentconn.Finder
	pid    atomic.Int32 // of the agent the latest connection reached
}

// open finds (or starts) the agent and returns a gRPC connection to it.
func (l *agentLink) open(ctx context.Context) (grpc.ClientConnInterface, func() error, error) {
	f, pid, err := l.finder.Find(ctx)
	if err != nil {
		return nil, nil, err
	}
	first, err := fileConn(f)
	if err != nil {
		return nil, nil, err
	}
	l.pid.Store(pid)
	// The connection that proved the agent alive carries the first RPC;
	// later reconnects dial afresh.
	spare := make(chan net.Conn, 1)
	spare <- first
	cc, err := grpc.NewClient("passthrough:///tokenkeeper-agent",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			select {
			case c := <-spare:
				return c, nil
			default:
			}
			f, pid, err := agentconn.Connect(ctx, l.finder.Socket)
			if err != nil {
				return nil, err
			}
			l.pid.Store(pid)
			return fileConn(f)
		}))
	closeSpare := func() {
		select {
		case c := <-spare:
			_ = c.Close()
		default:
		}
	}
	if err != nil {
		closeSpare()
		return nil, nil, fmt.Errorf("could not connect to agent: %w", err)
	}
	return cc, func() error { closeSpare(); return cc.Close() }, nil
}

// fileConn is the agent connection f as a net.Conn, which f no longer
// holds: agentconn speaks raw syscalls and links no package net.
func fileConn(f *os.File) (net.Conn, error) {
	defer f.Close() // FileConn holds a duplicate
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("could not connect to agent at %s: %w", f.Name(), err)
	}
	return c, nil
}

// DefaultSocketPath is where the agent for the default configuration file
// ($TOKENKEEPER_CONFIG, else $XDG_CONFIG_HOME/tokenkeeper/config.yaml)
// listens for this process (see SocketPath). It creates the runtime
// directory.
func DefaultSocketPath() (string, error) {
	return SocketPath(paths.ConfigFile(os.Getenv))
}

// SocketPath is where the agent serving configPath listens for this
// process: $XDG_RUNTIME_DIR/tokenkeeper/agent-<hash>[-<tag>].sock, else a
// 0700 directory under the temp dir. A configuration with {env: …}
// secrets has one agent per view of those variables; the names the agents
// recorded and the runtime directory's key turn this process's own
// environment into the tag the CLI would compute (paths.SeenTag), so
// a host finds the agent `tokenkeeper get` starts from the same
// environment, and none when its values differ.
func SocketPath(configPath string) (string, error) {
	if configPath == "" {
		return "", paths.ErrNoConfig
	}
	dir, err := paths.OpenRuntimeDir(os.Getenv)
	if err != nil {
		return "", err
	}
	defer dir.Close()
	tag, err := paths.SeenTag(dir, configPath, os.LookupEnv)
	if err != nil {
		return "", err
	}
	p, err := paths.Locate(dir, configPath, tag)
	if err != nil {
		return "", err
	}
	return p.Socket, nil
}
