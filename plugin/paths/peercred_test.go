//go:build linux || darwin

package paths

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPeerCred: both ends of a unix socket in this process see this
// process's uid and pid, on Linux (SO_PEERCRED) and macOS (LOCAL_PEERCRED).
func TestPeerCred(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(shortSocketDir(t), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer server.Close()
	for name, c := range map[string]net.Conn{"server side": server, "client side": client} {
		uid, pid, err := PeerCred(c)
		if err != nil || int(uid) != os.Getuid() || int(pid) != os.Getpid() {
			t.Errorf("%s: PeerCred = uid %d pid %d, %v; want uid %d pid %d", name, uid, pid, err, os.Getuid(), os.Getpid())
		}
	}
	if _, _, err := PeerCred(&net.TCPConn{}); err == nil {
		t.Error("PeerCred of a TCP connection: no error")
	}
}

// shortSocketDir is a directory whose socket paths fit macOS's 104 bytes
// (its TMPDIR is long).
func shortSocketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "tk-pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestPeerListener: a peer of the listener's uid is accepted; any other
// connection is closed before a byte is read.
func TestPeerListener(t *testing.T) {
	tests := []struct {
		name   string
		uid    uint32
		accept bool
	}{
		{"same uid accepted", uint32(os.Getuid()), true},
		{"other uid refused", uint32(os.Getuid()) + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := filepath.Join(shortSocketDir(t), "s")
			raw, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			l := &PeerListener{Listener: raw, UID: tt.uid}
			defer l.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := l.Accept()
				if err == nil {
					accepted <- c
				}
			}()
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if tt.accept {
				var s net.Conn
				select {
				case s = <-accepted:
				case <-time.After(5 * time.Second):
					t.Fatal("Accept returned nothing within 5s")
				}
				uid, pid, err := PeerCred(s)
				if err != nil || uid != uint32(os.Getuid()) || int(pid) != os.Getpid() {
					t.Fatalf("PeerCred = %d %d %v", uid, pid, err)
				}
				s.Close()
				return
			}
			// The refused connection is closed by the server: EOF, not a timeout.
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("read on refused connection: %v, want EOF", err)
			}
			select {
			case <-accepted:
				t.Fatal("a connection of another uid was accepted")
			default:
			}
		})
	}
}
