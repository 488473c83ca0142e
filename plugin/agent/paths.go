// Package agent runs the tokenkeeper agent: the TokenService served on a
// unix socket in a private runtime directory, to peers of the same uid only,
// until it has been idle for a while. It also holds the client half of the
// agent's life: finding the socket, and starting exactly one agent when many
// callers find none.
package agent

import (
	"net"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// The files of an agent are named by package paths, a leaf that hosts
// import without linking the agent; these names keep the agent's API.

// ErrInsecureDir: the runtime directory, or one on the way to it, could
// be changed by another user; tokenkeeper refuses to use it.
var ErrInsecureDir = paths.ErrInsecureDir

// Paths are the files of one agent in the runtime directory.
type Paths = paths.Agent

// PathsFor names the files of the agent serving configPath (made absolute)
// in the open runtime directory dir (paths.OpenRuntimeDir).
func PathsFor(dir *paths.Dir, configPath string) (Paths, error) {
	return paths.AgentIn(dir, configPath)
}

// PeerCred returns the uid and pid of the process at the other end of a
// unix socket connection (SO_PEERCRED; see paths.PeerCred).
func PeerCred(c net.Conn) (uid uint32, pid int32, err error) { return paths.PeerCred(c) }
