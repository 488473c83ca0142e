package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// ListenOptions say where Listen opens a proxy's listener.
type ListenOptions struct {
	// Address is a --listen value (ParseAddress), or "" for the socket
	// Name in the runtime directory.
	Address string
	// Name is the socket's name in the runtime directory.
	Name string
	// RuntimeDir is the private runtime directory (paths.OpenRuntimeDir),
	// called only for the default socket; the caller closes it.
	RuntimeDir func() (*paths.Dir, error)
	// Logger records the peers a socket refuses (uid and pid).
	Logger hclog.Logger
}

// Listener is a proxy's listener, as Listen opened it.
type Listener struct {
	net.Listener
	// URL is the base URL clients send requests to; on a socket its host
	// is only what the request line names (curl --unix-socket).
	URL string
	// Socket is the socket's path; "" on a TCP port.
	Socket string
	// dir is the directory of a unix:PATH socket, held until Close.
	dir       *paths.Dir
	closeOnce sync.Once
}

// Listen opens where a proxy serves. A TCP address must be a loopback IP
// (ParseAddress): anything else is an exec.CodeInvalidArgument error and
// nothing listens. A socket is bound mode 0600 in a directory only this
// user can change (paths.Dir.Listen) and accepts only peers of this uid
// (paths.PeerListener, the agent's check); a socket that a proxy still
// answers on is refused, not replaced. Close stops listening and removes
// the socket. Errors of the runtime directory or of binding the socket
// come back as they are, for the caller to classify.
func Listen(o ListenOptions) (*Listener, error) {
	addr := Address{}
	if o.Address != "" {
		var err error
		if addr, err = ParseAddress(o.Address); err != nil {
			return nil, &exec.Error{Code: exec.CodeInvalidArgument, Message: "--listen " + err.Error(), Err: err}
		}
	}
	if addr.TCP != "" {
		l, err := net.Listen("tcp", addr.TCP)
		if err != nil {
			return nil, exec.Errorf(exec.CodeUnavailable, "could not listen on %s: %v", addr.TCP, err)
		}
		return &Listener{Listener: l, URL: "http://" + l.Addr().String()}, nil
	}
	dir, name, owned, err := socketDir(addr.Unix, o)
	if err != nil {
		return nil, err
	}
	l, err := listenSocket(dir, name, o.Logger)
	if err != nil {
		if owned {
			_ = dir.Close()
		}
		return nil, err
	}
	pl := &Listener{Listener: l, URL: "http://localhost", Socket: dir.Join(name)}
	if owned {
		pl.dir = dir
	}
	return pl, nil
}

// listenSocket binds name in dir for peers of this uid, unless a proxy
// already answers there.
func listenSocket(dir *paths.Dir, name string, logger hclog.Logger) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", dir.Join(name), time.Second); err == nil {
		_ = c.Close()
		return nil, exec.Errorf(exec.CodeInvalidArgument,
			"a proxy already listens on %s: stop it, or pass --listen unix:PATH", dir.Join(name))
	}
	l, err := dir.Listen(name)
	if err != nil {
		return nil, err
	}
	return &paths.PeerListener{Listener: l, UID: uint32(os.Getuid()), Logger: logger}, nil
}

// socketDir is the directory and name of a proxy socket: path's, opened
// here (owned: Listen closes it), or o.Name in the runtime directory when
// path is "".
func socketDir(path string, o ListenOptions) (dir *paths.Dir, name string, owned bool, err error) {
	if path == "" {
		dir, err := o.RuntimeDir()
		return dir, o.Name, false, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", false, exec.Errorf(exec.CodeInvalidArgument, "--listen unix:%s: %v", path, err)
	}
	if dir, err = paths.OpenDir(filepath.Dir(abs)); err != nil {
		return nil, "", false, exec.Errorf(exec.CodeBadConfig, "--listen unix:%s: %v", path, err)
	}
	return dir, filepath.Base(abs), true, nil
}

// Close stops listening, removes the socket and releases the directory
// of a unix:PATH socket. Serve closes the listener too; a second Close
// removes nothing.
func (l *Listener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() {
		if l.dir != nil {
			err = errors.Join(err, l.dir.Close())
		}
	})
	return err
}

// Address is where a proxy listens: a unix socket or a loopback port.
type Address struct {
	// Unix is the socket path; "" for a TCP address.
	Unix string
	// TCP is a loopback "ip:port" (port 0: any free port).
	TCP string
}

// ErrNotLoopback: a TCP listen address other than a loopback IP. The
// proxy adds a token to whatever reaches it; on any other address that
// would be the network.
var ErrNotLoopback = errors.New("not a loopback address")

// ParseAddress reads a --listen value: "unix:PATH", or "IP:PORT" with a
// loopback IP (127.0.0.0/8, ::1). Host names, even localhost, are refused:
// what they resolve to is not the proxy's to check.
func ParseAddress(s string) (Address, error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return Address{}, errors.New("unix: names no socket path")
		}
		return Address{Unix: path}, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return Address{}, fmt.Errorf("%q is neither unix:PATH nor IP:PORT: %w", s, ErrNotLoopback)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return Address{}, fmt.Errorf("%s: %w (use 127.0.0.1:PORT or unix:PATH)", ap.Addr(), ErrNotLoopback)
	}
	return Address{TCP: ap.String()}, nil
}
