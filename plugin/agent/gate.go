package agent

import "sync"

// exitingMessage is the answer of a retiring agent, on either socket: the
// caller's retry finds (or starts) its successor.
const exitingMessage = "the configuration file changed: this agent is exiting; retry to start a new one"

// gate is what every call passes, gRPC or exec protocol alike: once the
// configuration file changed (stale) the agent retires — both sockets
// stop accepting and are unlinked before the call is answered, and
// retired closes — and every call it lets through counts as activity for
// the idle timer.
type gate struct {
	stale   func() bool // nil: never
	idle    *Idle
	sock    *Socket
	retired chan struct{}
	once    sync.Once
}

func newGate(s *Socket, stale func() bool, idle *Idle) *gate {
	return &gate{stale: stale, idle: idle, sock: s, retired: make(chan struct{})}
}

// enter lets a call in and marks it in flight, or retires the agent and
// reports false: the call is then answered Unavailable (exitingMessage).
func (g *gate) enter() bool {
	if g.stale != nil && g.stale() {
		g.once.Do(func() {
			close(g.retired) // first: Serve's accept errors are expected now
			g.sock.unlink()  // before answering: the retry must not find us
		})
		return false
	}
	g.idle.Begin()
	return true
}

// leave ends a call enter let in; served: it handed out a token.
func (g *gate) leave(served bool) {
	if served {
		g.idle.Served()
	}
	g.idle.End()
}
