//go:build !linux

package agent

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// acceptBlocking accepts a connection on the listening socket fd, made
// blocking (BSD accept inherits the listener's O_NONBLOCK) and
// close-on-exec under the fork lock.
func acceptBlocking(fd int) (int, error) {
	syscall.ForkLock.RLock()
	nfd, _, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(nfd, false); err != nil {
		_ = unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}
