//go:build !linux

package agent

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Elsewhere an idle lane sleeps in poll(2) on the listening socket
// (nonblocking, so that of lanes woken together all but one return
// EAGAIN) and on the read end of a pipe that stopping closes: shutting a
// listening socket down does not end a waiting accept everywhere.

// waker is the pipe whose write end's close wakes every lane.
type waker struct {
	r, w *os.File
	rfd  int // r's descriptor
}

func (w *waker) prepare(int) error {
	r, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	*w = waker{r: r, w: wr, rfd: int(r.Fd())}
	return nil
}

// next waits for a connection and accepts it; EINTR when there was
// none to accept after all (the lane waits again).
func (w *waker) next(fd int) (int, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(w.rfd), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, -1); err != nil {
		return -1, err
	}
	if fds[1].Revents != 0 {
		return -1, errors.New("exec socket: stopped")
	}
	if fds[0].Revents == 0 {
		return -1, unix.EINTR
	}
	return acceptBlocking(fd)
}

func (w *waker) wakeAll(int) { _ = w.w.Close() }

func (w *waker) release() { _ = w.r.Close() }

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
