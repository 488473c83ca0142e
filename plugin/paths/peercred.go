//go:build linux || darwin

package paths

import (
	"fmt"
	"net"
)

// PeerCred returns the uid and pid of the process at the other end of a
// unix socket connection, as the kernel recorded them at connect time
// (SO_PEERCRED on Linux, LOCAL_PEERCRED and LOCAL_PEERPID on macOS): they
// cannot be forged by the peer.
func PeerCred(c net.Conn) (uid uint32, pid int32, err error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, 0, fmt.Errorf("peer credentials: %T is not a unix connection", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("peer credentials: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		uid, pid, serr = peerCredFD(int(fd))
	}); err != nil {
		return 0, 0, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return 0, 0, fmt.Errorf("peer credentials: %w", serr)
	}
	return uid, pid, nil
}

// PeerCredFD is PeerCred for the descriptor of a connected unix socket
// that is not a net.Conn (a client speaking raw syscalls).
func PeerCredFD(fd int) (uid uint32, pid int32, err error) {
	uid, pid, err = peerCredFD(fd)
	if err != nil {
		return 0, 0, fmt.Errorf("peer credentials: %w", err)
	}
	return uid, pid, nil
}
