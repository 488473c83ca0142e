package agentconn

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// ErrNotReady: the agent that was started did not answer in time.
var ErrNotReady = errors.New("agent did not become ready")

// Starter finds a running agent or starts exactly one.
type Starter struct {
	// Paths of the agent.
	Paths paths.Agent
	// Probe returns nil when an agent answers on Paths.Socket.
	Probe func(ctx context.Context) error
	// Spawn starts an agent in the background; the returned channel
	// yields once if it exits. See SpawnDetached.
	Spawn func() (<-chan error, error)
	// Wait bounds how long to wait for a started agent; default 10 s.
	Wait time.Duration
}

// Ensure returns once an agent answers. When none does, it takes the spawn
// lock — so of many racing callers exactly one starts an agent — looks
// again, spawns, and polls with backoff until the agent answers, exits or
// the wait ends.
func (s Starter) Ensure(ctx context.Context) error {
	if s.Probe(ctx) == nil {
		return nil
	}
	wait := s.Wait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	lock, err := s.Paths.Dir.Lock(ctx, filepath.Base(s.Paths.Spawn))
	if err != nil {
		return fmt.Errorf("%w: waiting for another caller starting it: %v", ErrNotReady, err)
	}
	defer func() { _ = lock.Unlock() }()
	if s.Probe(ctx) == nil {
		return nil // the previous holder of the lock started it
	}
	exited, err := s.Spawn()
	if err != nil {
		return err
	}
	return s.poll(ctx, exited)
}

func (s Starter) poll(ctx context.Context, exited <-chan error) error {
	delay := 5 * time.Millisecond
	for {
		if s.Probe(ctx) == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w within the wait; see %s", ErrNotReady, s.Paths.Log)
		case err := <-exited:
			t.Stop()
			return fmt.Errorf("%w: it exited (%v); see %s", ErrNotReady, err, s.Paths.Log)
		case <-t.C:
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// SpawnDetached starts exe with args as the detached agent of p, as a
// daemon: a new session (no controlling terminal, no signals from the
// caller's terminal), working directory "/" (it must not keep the
// caller's workspace busy), stdin and stdout on /dev/null — nothing may
// reach the caller's stdout — stderr appended to p.Log (0600, opened in
// the runtime directory, rotated by size: OpenLog), and no other
// descriptor of the caller. env is the child's environment: it resolves
// {env: …} secrets from it; GOTRACEBACK is set to "single" whatever the
// caller's, so that no crash dumps core (the agent's memory holds
// secrets). The agent then turns core dumps and ptrace access off itself
// (Harden). The channel yields when the child exits.
func SpawnDetached(exe string, args, env []string, p paths.Agent) (<-chan error, error) {
	logf, err := p.OpenLog()
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(exe, args...)
	cmd.Env = daemonEnv(env)
	cmd.Dir = "/"
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Only stdin, stdout and stderr: no descriptor the caller inherited
	// (a pipe its reader waits on) may stay open for the agent's life.
	if err := withInheritedFDsClosed(cmd.Start); err != nil {
		return nil, fmt.Errorf("could not start agent: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return exited, nil
}

// daemonEnv is env with GOTRACEBACK=single in place of the caller's:
// GOTRACEBACK=crash would make a SIGQUIT or a fatal error dump core.
func daemonEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOTRACEBACK=") {
			out = append(out, kv)
		}
	}
	return append(out, "GOTRACEBACK=single")
}
