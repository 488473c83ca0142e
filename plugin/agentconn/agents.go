package agentconn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// ErrDidNotExit: an agent asked to stop was still running when the wait
// ended (AwaitExit).
var ErrDidNotExit = errors.New("did not exit")

// SocketPathError: the socket of the agent is longer than a unix socket
// address can hold, so no agent could ever listen there.
type SocketPathError struct {
	Socket string
	Max    int // the longest path the kernel binds
}

func (e *SocketPathError) Error() string {
	return fmt.Sprintf("the agent's socket path %s is %d bytes, longer than the %d a unix socket allows",
		e.Socket, len(e.Socket), e.Max)
}

// maxSocketPath is the longest path a unix socket can bind to here (the
// size of sockaddr_un's sun_path less its terminating NUL: 107 on Linux,
// 103 on macOS).
var maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// Locate is the agent serving configPath for a caller that has loaded the
// configuration: names are the environment variables its {env: …}
// secrets read, environ the caller's environment, of which the agent gets
// and tags only Environ's part. A socket path the kernel cannot bind is a
// *SocketPathError: the agent would fail to start at every call.
func Locate(dir *paths.Dir, configPath string, names, environ []string) (paths.Agent, error) {
	tag, err := paths.TagOf(dir, names, Lookup(Environ(environ)))
	if err != nil {
		return paths.Agent{}, fmt.Errorf("could not name the agent: %w", err)
	}
	p, err := paths.Locate(dir, configPath, tag)
	if err == nil && len(p.Socket) > maxSocketPath {
		err = &SocketPathError{Socket: p.Socket, Max: maxSocketPath}
	}
	return p, err
}

// Start is how a caller that may start agents (the CLI) has agent a
// started when none answers (host.DialOptions.Start): exe runs as
// `exe agent --detached --config <a.Config>` with environ less the token
// of an enclosing `tokenkeeper exec` (Environ), and of many racing
// callers exactly one starts it (Starter.Ensure). A runtime directory
// whose file system is full is refused before anything starts.
func Start(a paths.Agent, exe string, environ []string) func(ctx context.Context) error {
	s := Starter{
		Paths: a,
		Probe: func(ctx context.Context) error {
			_, err := PID(ctx, a.Socket)
			return err
		},
		Spawn: func() (<-chan error, error) {
			args := []string{"agent", "--detached", "--config", a.Config}
			return SpawnDetached(exe, args, Environ(environ), a)
		},
	}
	return func(ctx context.Context) error {
		if err := checkSpace(a.Dir.Path()); err != nil {
			return err
		}
		return s.Ensure(ctx)
	}
}

// checkSpace refuses to start an agent in a runtime directory whose file
// system has no block or inode left: the agent could not bind its socket,
// would exit at once, and the caller would see "agent did not become
// ready" (retryable) for a problem only a person can fix. The error is a
// *os.PathError on dir wrapping ENOSPC.
func checkSpace(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil //nolint:nilerr // unknown: let the start itself tell
	}
	blocks := uint64(st.Bavail)
	if os.Geteuid() == 0 {
		blocks = uint64(st.Bfree) // root may use the reserved blocks
	}
	if blocks > 0 && st.Ffree > 0 {
		return nil
	}
	return &os.PathError{Op: "start the agent in", Path: dir, Err: syscall.ENOSPC}
}

// Running reports whether an agent answers on socket.
func Running(ctx context.Context, socket string) bool {
	_, err := PID(ctx, socket)
	return err == nil
}

// PID is the pid of the agent listening on socket, as the kernel tells
// (SO_PEERCRED of a connection to it), so no pid file can go stale or be
// forged.
func PID(ctx context.Context, socket string) (int, error) {
	deadline, _ := ctx.Deadline()
	fd, pid, err := dialFD(deadline, socket)
	if err != nil {
		return 0, err
	}
	_ = unix.Close(fd)
	return int(pid), nil
}

// Stop sends SIGTERM to the agent on each of sockets and returns the pids
// it signalled; a socket nobody answers on (left by a crashed agent) is
// skipped. The agents then revoke what they hold and exit: AwaitExit.
func Stop(ctx context.Context, sockets []string) ([]int, error) {
	var pids []int
	for _, s := range sockets {
		pid, err := PID(ctx, s)
		if err != nil {
			continue // nobody to stop
		}
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return pids, fmt.Errorf("could not signal agent %d: %w", pid, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// AwaitExit polls until pid is gone (Gone); after wait it fails with
// ErrDidNotExit, and when ctx ends with ctx's cause.
func AwaitExit(ctx context.Context, pid int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !Gone(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("agent %d %w within %s", pid, ErrDidNotExit, wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for agent %d to exit: %w", pid, context.Cause(ctx))
		case <-tick.C:
		}
	}
	return nil
}

// Gone reports whether pid has exited. A zombie counts as gone: a
// detached agent's parent (often a finished get) may never reap it.
func Gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// Fields after the parenthesised command name: state is the first.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}
