package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// spareLanes is how many idle lanes wait for callers.
const spareLanes = 2

// maxLanes bounds the threads serving the exec socket at once: more
// callers than that wait in the listen backlog.
const maxLanes = 64

// lanes serve the exec socket from goroutines locked to their OS threads
// doing blocking syscalls: an idle lane sleeps in the kernel on the
// listening socket (in accept(2) on Linux, see accept_linux.go), so a
// caller's connect wakes exactly the thread that accepts, reads, answers
// and writes — no hand-off through Go's network poller and scheduler,
// which doubled the round trip (see the commit adding this).
//
// Every call is served by the lane that accepted it. So that a slow call
// (a login, a client sending half a line) never holds the others up, a
// lane that accepts while no other lane is idle starts one first; a lane
// that finishes while another is idle ends. Steady sequential callers
// thus meet one idle lane, and concurrent ones one lane each, up to
// maxLanes.
type lanes struct {
	fd       int         // the listening socket (execSocket's), closed by close
	stopping atomic.Bool // set by close before it wakes the lanes
	wait     waker       // how lanes wait and close wakes them (per platform)
	serve    func(c conn)
	uid      uint32
	log      hclog.Logger

	wg    sync.WaitGroup
	mu    sync.Mutex // guards idle and total
	idle  int        // lanes waiting for a caller, or about to
	total int        // lanes running
}

// startLanes serves the listening socket fd with serve, one call per
// connection, accepting only peers of uid. On success the lanes own fd.
func startLanes(fd int, uid uint32, serve func(c conn), log hclog.Logger) (*lanes, error) {
	ln := &lanes{fd: fd, serve: serve, uid: uid, log: log, idle: spareLanes, total: spareLanes}
	if err := ln.wait.prepare(fd); err != nil {
		return nil, fmt.Errorf("exec socket: %w", err)
	}
	for range spareLanes {
		ln.wg.Go(ln.run)
	}
	return ln, nil
}

// dupListener is a close-on-exec duplicate of the descriptor of l.
func dupListener(l net.Listener) (int, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("exec socket: %T has no descriptor", l)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("exec socket: %w", err)
	}
	fd, derr := -1, error(nil)
	if err := raw.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, fmt.Errorf("exec socket: %w", err)
	}
	if derr != nil {
		return -1, fmt.Errorf("exec socket: dup: %w", derr)
	}
	return fd, nil
}

// run is one lane. The thread stays locked while it waits, so that the
// kernel wakes it, and is handed back to the runtime when the lane ends.
func (ln *lanes) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		fd, ok := ln.accept()
		if !ok {
			return
		}
		ln.mu.Lock()
		ln.idle--
		if ln.idle == 0 && ln.total < maxLanes {
			ln.idle++
			ln.total++
			ln.wg.Go(ln.run)
		}
		ln.mu.Unlock()
		ln.call(fd)
		ln.mu.Lock()
		if ln.idle >= spareLanes {
			ln.total--
			ln.mu.Unlock()
			return
		}
		ln.idle++
		ln.mu.Unlock()
	}
}

// accept waits for a caller of the allowed uid and returns its
// connection, blocking; false once the lanes stop.
func (ln *lanes) accept() (int, bool) {
	for {
		fd, err := ln.wait.next(ln.fd)
		if ln.stopping.Load() {
			if err == nil {
				_ = unix.Close(fd)
			}
			return -1, false
		}
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.ECONNABORTED), errors.Is(err, unix.EINTR):
			continue // another lane took it, or the caller left
		case err != nil: // out of descriptors: let calls in flight end
			ln.log.Warn("exec socket: accept failed", "error", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if ln.trusted(fd) {
			return fd, true
		}
		_ = unix.Close(fd)
	}
}

// trusted checks the caller's uid as Listener does for gRPC.
func (ln *lanes) trusted(fd int) bool {
	uid, pid, err := paths.PeerCredFD(fd)
	if err == nil && uid == ln.uid {
		return true
	}
	if err != nil {
		ln.log.Warn("refused connection: no peer credentials", "error", err)
	} else {
		ln.log.Warn("refused connection from another user", "uid", uid, "pid", pid)
	}
	return false
}

// call serves the connection fd and closes it.
func (ln *lanes) call(fd int) {
	c := &fdConn{fd: fd}
	defer c.Close()
	ln.serve(c)
}

// close stops the lanes — at once those waiting, the others after their
// call — and waits up to limit for them to end.
func (ln *lanes) close(limit time.Duration) {
	ln.stopping.Store(true)
	ln.wait.wakeAll(ln.fd)
	done := make(chan struct{})
	go func() { ln.wg.Wait(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
		_ = unix.Close(ln.fd)
		ln.wait.release()
	case <-t.C: // a call still runs: the process is exiting anyway
	}
}

// fdConn is a connected socket in blocking mode, read and written with
// plain syscalls. Each read and write is first tried without waiting
// (MSG_DONTWAIT): a caller's request is usually there by the time it is
// accepted, and an answer fits the socket's buffer, so a call costs one
// syscall each way. Only one that would wait sets the deadline as the
// socket's timeout (SO_RCVTIMEO, SO_SNDTIMEO) and blocks; its end is
// os.ErrDeadlineExceeded.
type fdConn struct {
	fd                    int
	readUntil, writeUntil time.Time
}

func (c *fdConn) SetReadDeadline(t time.Time) error  { c.readUntil = t; return nil }
func (c *fdConn) SetWriteDeadline(t time.Time) error { c.writeUntil = t; return nil }

func (c *fdConn) Read(b []byte) (int, error) {
	n, _, err := unix.Recvfrom(c.fd, b, unix.MSG_DONTWAIT)
	for errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		if !c.timeout(unix.SO_RCVTIMEO, c.readUntil) {
			return 0, os.ErrDeadlineExceeded
		}
		n, err = unix.Read(c.fd, b)
		if errors.Is(err, unix.EAGAIN) {
			return 0, os.ErrDeadlineExceeded
		}
	}
	switch {
	case err != nil:
		return 0, err
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *fdConn) Write(b []byte) (int, error) {
	written := 0
	wait := false // the first try does not
	for written < len(b) {
		var n int
		var err error
		if wait {
			if !c.timeout(unix.SO_SNDTIMEO, c.writeUntil) {
				return written, os.ErrDeadlineExceeded
			}
			n, err = unix.Write(c.fd, b[written:])
		} else {
			n, err = unix.SendmsgN(c.fd, b[written:], nil, nil, unix.MSG_DONTWAIT)
		}
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN) && !wait:
			wait = true
			continue
		case errors.Is(err, unix.EAGAIN):
			return written, os.ErrDeadlineExceeded
		case err != nil:
			return written, err
		}
		written += n
		wait = true
	}
	return written, nil
}

// timeout sets the socket option opt to the time left until until (none
// for the zero time); false when none is left.
func (c *fdConn) timeout(opt int, until time.Time) bool {
	if until.IsZero() {
		return true
	}
	left := time.Until(until)
	if left <= 0 {
		return false
	}
	tv := unix.NsecToTimeval(max(left, time.Microsecond).Nanoseconds())
	_ = unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, opt, &tv)
	return true
}

func (c *fdConn) Close() error { return unix.Close(c.fd) }
