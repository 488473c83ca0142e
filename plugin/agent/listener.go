package agent

import (
	"net"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// Listener accepts only connections whose peer runs as UID; every other
// connection is closed before a byte is read from it. The directory mode
// already keeps other users out; this holds even when it does not (root
// changing modes, a socket passed along, a container sharing the path).
type Listener struct {
	net.Listener
	// UID is the only peer uid accepted.
	UID uint32
	// Logger records refused peers (uid and pid, nothing else).
	Logger hclog.Logger
}

// Accept returns the next connection from a peer of the allowed uid.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, pid, err := paths.PeerCred(c)
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
