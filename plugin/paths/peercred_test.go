//go:build linux || darwin

package paths

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestPeerCred: both ends of a unix socket in this process see this
// process's uid and pid, on Linux (SO_PEERCRED) and macOS (LOCAL_PEERCRED).
func TestPeerCred(t *testing.T) {
	// Short: macOS allows 104 bytes of socket path, and its TMPDIR is long.
	dir, err := os.MkdirTemp("/tmp", "tk-pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
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
