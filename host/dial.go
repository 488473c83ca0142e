package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// ErrNoAgent: nothing answers on the agent socket.
var ErrNoAgent = errors.New("no agent is running")

// Dial connects to a running agent on socketPath and returns the same
// Client Launch returns. It fails with ErrNoAgent at once when nothing
// listens there, rather than letting the first call wait; it never starts
// an agent (`tokenkeeper get` does). Every connection checks that the
// agent runs as this uid.
func Dial(ctx context.Context, socketPath string) (*Client, error) {
	first, err := dialAgent(ctx, socketPath)
	if err != nil {
		return nil, err
	}
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
				return dialAgent(ctx, socketPath)
			}
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
		return nil, fmt.Errorf("could not connect to agent: %w", err)
	}
	return NewClient(cc, func() error { closeSpare(); return cc.Close() }), nil
}

// dialAgent opens one connection to socketPath. No TLS: the socket lives
// in a 0700 directory and both ends check the other's uid with
// SO_PEERCRED.
func dialAgent(ctx context.Context, socketPath string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrNoAgent, socketPath, err)
	}
	uid, _, err := paths.PeerCred(c)
	if err != nil || uid != uint32(os.Getuid()) {
		_ = c.Close()
		return nil, fmt.Errorf("could not trust agent at %s: peer uid %d, err %v", socketPath, uid, err)
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
// environment into the tag the CLI would compute (paths.AgentSeenBy), so
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
	p, err := paths.AgentSeenBy(dir, configPath, os.LookupEnv)
	if err != nil {
		return "", err
	}
	return p.Socket, nil
}
