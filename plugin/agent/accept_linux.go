package agent

import "golang.org/x/sys/unix"

// acceptBlocking accepts a connection on the listening socket fd; the new
// descriptor is blocking (accept4 does not inherit O_NONBLOCK) and
// close-on-exec.
func acceptBlocking(fd int) (int, error) {
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	return nfd, err
}
