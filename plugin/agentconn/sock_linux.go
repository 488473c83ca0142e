package agentconn

import "golang.org/x/sys/unix"

// socketFD is a new blocking unix stream socket, close-on-exec.
func socketFD() (int, error) {
	return unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
