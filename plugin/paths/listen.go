package paths

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Listen binds a unix socket at name in d, mode 0600, replacing whatever
// name was (a stale socket, a symlink: replaced, never followed). A
// socket cannot be bound relative to a directory descriptor, so it is
// bound under a fresh temporary name through a path that resolves to d
// itself (bindPath), checked to be a socket in d, and renamed into place.
// Close unlinks name once.
func (d *Dir) Listen(name string) (net.Listener, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	tmp := "." + name + "-" + randomSuffix()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: d.bindPath(tmp), Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("could not listen on %s: %w", d.Join(name), err)
	}
	l.SetUnlinkOnClose(false) // the bound path may no longer name our socket
	fail := func(err error) (net.Listener, error) {
		_ = l.Close()
		_ = d.Remove(tmp)
		return nil, fmt.Errorf("could not listen on %s: %w", d.Join(name), err)
	}
	st, err := d.Lstat(tmp)
	switch {
	case err != nil:
		return fail(fmt.Errorf("the socket did not appear in %s: %w", d.Path(), err))
	case st.Mode&unix.S_IFMT != unix.S_IFSOCK || int(st.Uid) != os.Getuid():
		return fail(fmt.Errorf("%s is not the socket just bound: %w", d.Join(tmp), ErrInsecureFile))
	}
	// fchmodat follows symlinks, but tmp was just checked to be a socket
	// in a directory only this user can write.
	if err := unix.Fchmodat(d.fd(), tmp, 0o600, 0); err != nil {
		return fail(fmt.Errorf("could not restrict socket mode: %w", err))
	}
	if err := d.Rename(tmp, name); err != nil {
		return fail(err)
	}
	return &dirListener{UnixListener: l, d: d, name: name}, nil
}

// dirListener is a socket bound in a Dir; Close removes its name once.
type dirListener struct {
	*net.UnixListener
	d      *Dir
	name   string
	unlink sync.Once
}

// Addr names the socket by its path in the directory.
func (l *dirListener) Addr() net.Addr { return &net.UnixAddr{Name: l.d.Join(l.name), Net: "unix"} }

// Close stops listening and removes the socket's name (once: a second
// Close must not remove the socket of an agent started since).
func (l *dirListener) Close() error {
	err := l.UnixListener.Close()
	l.unlink.Do(func() {
		if rerr := l.d.Remove(l.name); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	})
	return err
}
