package proxy

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// shortDir is a private directory whose socket paths fit the 104 bytes
// macOS allows (t.TempDir's may not).
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "tkp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// runtimeDir opens d as the runtime directory for the test's lifetime.
func runtimeDir(t *testing.T, d string) func() (*paths.Dir, error) {
	t.Helper()
	dir, err := paths.OpenDir(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	return func() (*paths.Dir, error) { return dir, nil }
}

// TestListenRefusesNonLoopback: a --listen that is no loopback IP nor a
// unix socket is a usage error (exit 2) and nothing is bound.
func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "localhost:0", "192.0.2.1:8080", ":0"} {
		l, err := Listen(ListenOptions{Address: addr})
		var e *exec.Error
		if !errors.As(err, &e) || e.Code.ExitCode() != 2 || !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Listen(%q) = %v, %v: want ErrNotLoopback, exit 2", addr, l, err)
		}
		if l != nil {
			_ = l.Close()
		}
	}
}

// TestListenLoopback: a loopback port serves at its http URL, no socket.
func TestListenLoopback(t *testing.T) {
	l, err := Listen(ListenOptions{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Socket != "" || l.URL != "http://"+l.Addr().String() {
		t.Fatalf("URL %q, Socket %q", l.URL, l.Socket)
	}
}

// TestListenSocket: by default the socket is Name in the runtime
// directory, mode 0600, for peers of this uid only; a second proxy on
// the same socket is refused while the first listens; Close removes
// the socket, and the name can be listened on again.
func TestListenSocket(t *testing.T) {
	d := shortDir(t)
	o := ListenOptions{Name: "proxy-p.sock", RuntimeDir: runtimeDir(t, d)}
	l, err := Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(d, "proxy-p.sock")
	if l.Socket != sock || l.URL != "http://localhost" {
		t.Fatalf("URL %q, Socket %q, want %s", l.URL, l.Socket, sock)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v, %v: want a socket of mode 0600", fi, err)
	}
	if pl, ok := l.Listener.(*paths.PeerListener); !ok || pl.UID != uint32(os.Getuid()) {
		t.Fatalf("the socket's listener is %T: want the peer check for uid %d", l.Listener, os.Getuid())
	}
	go acceptOne(l)
	var e *exec.Error
	if l2, err := Listen(o); !errors.As(err, &e) || e.Code != exec.CodeInvalidArgument {
		t.Fatalf("a second Listen on a live socket = %v, %v: want InvalidArgument", l2, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after Close: %v", err)
	}
	l, err = Listen(o)
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	_ = l.Close()
}

// acceptOne answers the probe of a second Listen.
func acceptOne(l net.Listener) {
	if c, err := l.Accept(); err == nil {
		_ = c.Close()
	}
}

// TestListenUnixPath: unix:PATH binds PATH in its directory, which must
// be private to this user; the runtime directory is not asked for.
func TestListenUnixPath(t *testing.T) {
	d := shortDir(t)
	sock := filepath.Join(d, "mine.sock")
	l, err := Listen(ListenOptions{Address: "unix:" + sock})
	if err != nil {
		t.Fatal(err)
	}
	if l.Socket != sock {
		t.Fatalf("Socket %q, want %s", l.Socket, sock)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after Close: %v", err)
	}
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	var e *exec.Error
	if l, err := Listen(ListenOptions{Address: "unix:" + sock}); !errors.As(err, &e) || e.Code != exec.CodeBadConfig {
		t.Fatalf("unix:PATH in a directory others can write = %v, %v: want BadConfig", l, err)
	}
}

func TestParseAddress(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Address
		err  bool
	}{
		{"unix:/run/x.sock", Address{Unix: "/run/x.sock"}, false},
		{"127.0.0.1:8080", Address{TCP: "127.0.0.1:8080"}, false},
		{"127.0.0.2:0", Address{TCP: "127.0.0.2:0"}, false},
		{"[::1]:9", Address{TCP: "[::1]:9"}, false},
		{"0.0.0.0:8080", Address{}, true},
		{"[::]:8080", Address{}, true},
		{"192.168.1.5:8080", Address{}, true},
		{"localhost:8080", Address{}, true},
		{":8080", Address{}, true},
		{"unix:", Address{}, true},
	} {
		got, err := ParseAddress(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseAddress(%q) = %+v, %v", tt.in, got, err)
		}
	}
}
