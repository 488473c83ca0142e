//go:build linux || darwin

package paths

import "net"

// PeerListener accepts only connections whose peer runs as UID; every
// other connection is closed before a byte is read from it. The directory
// mode already keeps other users out; this holds even when it does not
// (root changing modes, a socket passed along, a container sharing the
// path). The agent's socket and the auth proxy's use it.
type PeerListener struct {
	net.Listener
	// UID is the only peer uid accepted.
	UID uint32
	// Logger, if set, records refused peers (uid and pid, nothing else).
	Logger Warner
}

// Warner is the one method of a logger PeerListener needs; an
// hclog.Logger has it (paths imports only the standard library and x/sys).
type Warner interface {
	Warn(msg string, args ...any)
}

// Accept returns the next connection from a peer of the allowed uid.
func (l *PeerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, pid, err := PeerCred(c)
		if err == nil && uid == l.UID {
			return c, nil
		}
		if l.Logger != nil {
			if err != nil {
				l.Logger.Warn("refused connection: no peer credentials", "error", err)
			} else {
				l.Logger.Warn("refused connection from another user", "uid", uid, "pid", pid)
			}
		}
		_ = c.Close()
	}
}
