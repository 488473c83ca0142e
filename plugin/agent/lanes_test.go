package agent

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// TestLanesStop: stopping wakes every idle lane at once (blocked in
// accept on Linux) and lets a lane in a call finish it; afterwards the
// socket takes no caller.
func TestLanesStop(t *testing.T) {
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	x, err := listenExec(p, uint32(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	fd, _ := x.take()
	inCall, release := make(chan struct{}), make(chan struct{})
	finished := make(chan struct{}, 1)
	ln, err := startLanes(fd, uint32(os.Getuid()), func(c conn) {
		close(inCall)
		<-release
		_, _ = c.Write([]byte("done\n"))
		finished <- struct{}{}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", p.Exec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-inCall:
	case <-time.After(10 * time.Second):
		t.Fatal("the call was not served")
	}
	stopped := make(chan struct{})
	go func() { ln.close(time.Minute); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("close returned while a call ran")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the lanes did not stop within 10s of the last call's end: an idle lane was not woken")
	}
	<-finished
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c2, err := (&net.Dialer{}).DialContext(ctx, "unix", p.Exec); err == nil {
		c2.Close()
		t.Fatal("the stopped socket took a caller")
	}
}
