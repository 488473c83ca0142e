package agent

import "golang.org/x/sys/unix"

// On Linux an idle lane blocks in accept(2) itself: one syscall where
// poll and accept were two, and the kernel wakes one waiter per caller
// (accept waits exclusively), where poll woke every idle lane and all but
// one found nothing to accept. Stopping shuts the listening socket down,
// which ends every accept waiting on it (EINVAL) and refuses new callers.

// waker: shutting the socket down wakes the lanes; nothing to hold.
type waker struct{}

// prepare makes the listening socket blocking, for accept to wait in.
// Nothing else reads it: execSocket took it from Go's poller.
func (w *waker) prepare(fd int) error { return unix.SetNonblock(fd, false) }

// next waits for and accepts the next connection; the new descriptor is
// blocking (accept4 does not inherit O_NONBLOCK) and close-on-exec.
func (w *waker) next(fd int) (int, error) {
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	return nfd, err
}

// wakeAll ends the accept of every idle lane, and of any lane that
// calls next later.
func (w *waker) wakeAll(fd int) { _ = unix.Shutdown(fd, unix.SHUT_RDWR) }

// release frees what prepare took.
func (w *waker) release() {}
