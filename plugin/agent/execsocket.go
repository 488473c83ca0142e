package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// execSocket is the bound exec socket as a bare descriptor, outside Go's
// network poller: the lanes (see lanes) accept on it with blocking
// syscalls, and a socket also registered with the poller would wake the
// poller's thread for every caller, for nothing.
type execSocket struct {
	d    *paths.Dir
	name string
	uid  uint32 // the only peer uid served

	mu     sync.Mutex
	fd     int  // -1 once closed
	taken  bool // the lanes own fd now
	linked bool // name is ours to remove
}

// listenExec binds the exec socket p.Exec for peers of uid, as
// paths.Dir.Listen binds (mode 0600, replacing a stale socket, never
// following a link), and takes its descriptor from Go: bound under a
// temporary name and renamed into place before the Go listener is
// closed, so closing it (which removes the name it was bound under) never
// leaves p.Exec missing.
func listenExec(p paths.Agent, uid uint32) (*execSocket, error) {
	name := filepath.Base(p.Exec)
	tmp := "." + name + ".new"
	l, err := p.Dir.Listen(tmp)
	if err != nil {
		return nil, err
	}
	fd, err := dupListener(l)
	if err == nil {
		err = p.Dir.Rename(tmp, name)
	}
	if cerr := l.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("exec socket: %w", cerr)
	}
	if err != nil {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
		return nil, err
	}
	return &execSocket{d: p.Dir, name: name, uid: uid, fd: fd, linked: true}, nil
}

// take hands the descriptor to the lanes, which close it; false once
// closed.
func (x *execSocket) take() (int, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.fd < 0 || x.taken {
		return -1, false
	}
	x.taken = true
	return x.fd, true
}

// unlink removes the socket's name (once: a second call must not remove
// the socket of an agent started since): callers no longer find it.
// Connections already queued are still served until the lanes stop.
func (x *execSocket) unlink() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.linked {
		return nil
	}
	x.linked = false
	if err := x.d.Remove(x.name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Close unlinks the socket and closes its descriptor unless the lanes
// took it.
func (x *execSocket) Close() error {
	err := x.unlink()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.fd >= 0 && !x.taken {
		err = errors.Join(err, unix.Close(x.fd))
	}
	x.fd = -1
	return err
}
