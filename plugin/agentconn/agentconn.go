// Package agentconn is the client half of the agent's life, shared by the
// CLI and every Go host (package host, the Packer data source): which
// agent serves a caller (Locate, over paths.Agent), find the agent
// listening on a socket or have one started (Finder, Start: exactly one
// of many racing callers starts it), tell when the agent that failed a
// call has since left the socket — it retired because the profiles file
// changed, or idled out during the call — so that the caller runs the
// call once more on its successor (Finder.Left), whether one runs
// (Running, PID), stop agents and wait for them to exit (Stop, AwaitExit,
// Gone).
//
// The lean front binary (`tokenkeeper get`, `invalidate`, `env`, `exec`)
// uses two functions of it and nothing of gRPC: LocateFromNames finds
// the caller's agent without loading the YAML configuration (from the
// names file the agent wrote, and whether it is fresh), and Call sends
// that agent's exec socket (paths.Agent.Exec) one TokenRequest or
// InvalidateRequest document of package host/exec and returns the Token
// or Error document `tokenkeeper get --format json` would print, byte for
// byte; the front prints it, or converts it with host/exec for the other
// formats. ErrNoAgent, ErrAgentLeft and a stale names file send the front
// to the full binary, which starts agents.
//
// It speaks no gRPC and links neither the keeper, the configuration, the
// agent server nor any YAML, protobuf, go-plugin or CLI library (see
// TestStaysLeaf): package host stays thin and a lean front binary can be
// built on it. It dials with raw syscalls and imports no package net
// (TestNoNet), whose inits every start of the front would pay; a gRPC
// caller turns Connect's socket into a net.Conn. A Go host never starts
// an agent; the CLI passes Start.
package agentconn

import (
	"context"
	"errors"
	"os"
)

// ErrNoAgent: nothing answers on the agent socket.
var ErrNoAgent = errors.New("no agent is running")

// Connect opens one connection to the agent listening on socket and
// returns it, a connected blocking unix socket, with the agent's pid. No
// TLS: the socket lives in a 0700 directory and both ends check the
// other's uid with SO_PEERCRED. Nothing listening is an error wrapping
// ErrNoAgent; ctx's deadline bounds the connect. A gRPC caller makes it
// a net.Conn (net.FileConn): this package links no package net, whose
// inits the lean front would pay at every start.
func Connect(ctx context.Context, socket string) (*os.File, int32, error) {
	deadline, _ := ctx.Deadline()
	fd, pid, err := dialFD(deadline, socket)
	if err != nil {
		return nil, 0, err
	}
	return os.NewFile(uintptr(fd), socket), pid, nil
}

// Finder finds the agent on one socket, or has one started.
type Finder struct {
	// Socket is where the agent listens (paths.Agent.Socket).
	Socket string
	// Start, if set, starts an agent when none answers and returns once
	// one does (the CLI: Start, which starts exactly one
	// of many racing callers). Nil never starts one: Find then fails
	// with ErrNoAgent.
	Start func(ctx context.Context) error
}

// Find returns a connection to the agent (Connect) and its pid, starting
// the agent first when none answers and f.Start is set.
func (f Finder) Find(ctx context.Context) (*os.File, int32, error) {
	c, pid, err := Connect(ctx, f.Socket)
	if err == nil || f.Start == nil || !errors.Is(err, ErrNoAgent) {
		return c, pid, err
	}
	if err := f.Start(ctx); err != nil {
		return nil, 0, err
	}
	return Connect(ctx, f.Socket)
}

// Left reports whether the agent with pid no longer listens on the
// socket: nothing answers there, or another agent does. A call that
// failed as unavailable on an agent that has left failed because that
// agent was going away (it answers "this agent is exiting" after the
// profiles file changed, or dropped the connection while retiring or
// idling out), not because of upstream: it is worth running once more on
// the agent Find returns now. An agent that still answers gave its own
// verdict, which a retry would only repeat.
func (f Finder) Left(ctx context.Context, pid int32) bool {
	deadline, _ := ctx.Deadline()
	return left(deadline, f.Socket, pid)
}
