package agentconn

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// socketFD is a new blocking unix stream socket, close-on-exec (macOS has
// no SOCK_CLOEXEC: set under the fork lock, as package syscall does).
func socketFD() (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}
