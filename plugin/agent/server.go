// Package agent runs the tokenkeeper agent: the TokenService served on a
// unix socket in a private runtime directory, to peers of the same uid only,
// until it has been idle for a while. It is the server half only: which
// agent serves a caller is paths.Agent (paths.Locate), and finding,
// starting, stopping and listing agents is package agentconn, shared by
// the CLI and every Go host.
package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

// DefaultUnusedTimeout is how long a detached agent that has never handed
// out a token waits for a call before it exits (Options.UnusedTimeout).
const DefaultUnusedTimeout = time.Minute

// ErrAlreadyRunning: another agent holds the run lock of these paths.
var ErrAlreadyRunning = errors.New("an agent is already running for this configuration")

// Socket is a bound agent socket, its sibling exec socket, and the run
// lock that makes them ours.
type Socket struct {
	net.Listener             // the TokenService (gRPC)
	exec         *execSocket // the exec protocol (paths.Agent.Exec)
	lock         *paths.FileLock
}

// Listen takes the run lock of p (waiting until ctx ends, since an agent
// that is exiting holds it for a moment) and binds p.Socket and p.Exec,
// mode 0600, in the runtime directory — replacing a stale socket a
// crashed agent left behind, never following a link — accepting only
// peers of this uid.
func Listen(ctx context.Context, p paths.Agent, logger hclog.Logger) (*Socket, error) {
	lock, err := p.Dir.Lock(ctx, filepath.Base(p.Run))
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrAlreadyRunning, err)
	}
	// Holding the run lock proves no live agent owns the socket files.
	l, err := p.Dir.Listen(filepath.Base(p.Socket))
	if err != nil {
		_ = lock.Unlock()
		return nil, err
	}
	uid := uint32(os.Getuid())
	x, err := listenExec(p, uid)
	if err != nil {
		_ = l.Close()
		_ = lock.Unlock()
		return nil, err
	}
	return &Socket{
		Listener: &paths.PeerListener{Listener: l, UID: uid, Logger: logger},
		exec:     x,
		lock:     lock,
	}, nil
}

// Close stops listening, removes the socket files and releases the run
// lock, so that a new agent may start at once.
func (s *Socket) Close() error {
	err := s.Listener.Close() // unlinks the socket (paths.Dir.Listen)
	if errors.Is(err, net.ErrClosed) {
		err = nil // the gRPC server closed it first
	}
	err = errors.Join(err, s.exec.Close())
	return errors.Join(err, s.lock.Unlock())
}

// unlink stops both sockets accepting and removes their files (a
// retiring agent, before it answers).
func (s *Socket) unlink() {
	_ = s.Listener.Close()
	_ = s.exec.unlink()
}

// Options configure Serve.
type Options struct {
	// Register installs the TokenService on the server (plugin.Register).
	Register func(*grpc.Server)
	// Exec, if set, answers the exec protocol on the exec socket; nil
	// closes that socket at once, so callers use the gRPC one.
	Exec ExecHandler
	// ExecReadTimeout bounds the wait for an exec request line; default
	// DefaultExecReadTimeout.
	ExecReadTimeout time.Duration
	// IdleTimeout ends the agent after this long without a call; zero
	// or less means never.
	IdleTimeout time.Duration
	// UnusedTimeout, if positive, ends the agent after this long without
	// a call as long as it has never handed out a token (see
	// Idle.Unused): detached agents get DefaultUnusedTimeout.
	UnusedTimeout time.Duration
	// Shutdown revokes everything the agent holds (keeper.Close). It
	// runs after the socket is gone, bounded by ShutdownTimeout.
	Shutdown func(ctx context.Context) error
	// HoldUntil, if set, keeps an idle agent up until the time it
	// reports (zero: no hold): the keeper's latest KeepAliveUntil, since
	// exiting revokes the sessions it promised callers to keep alive.
	HoldUntil func() time.Time
	// ShutdownTimeout bounds Shutdown; default 30s.
	ShutdownTimeout time.Duration
	// Unsaved, if set, tries to store what the agent holds that exists
	// nowhere else (a rotated service-account token whose write-back
	// failed; keeper.SaveUnsaved) and returns nil once nothing is left.
	// After Shutdown, Serve calls it every UnsavedRetry until it returns
	// nil, logging each failure: exiting would lose what it holds.
	Unsaved func(ctx context.Context) error
	// UnsavedRetry is the period of those attempts; default 5s.
	UnsavedRetry time.Duration
	// Stale, if set, is asked before every call; once it reports true
	// (the configuration file changed) the agent stops accepting, answers
	// that call Unavailable and exits, so that the caller's retry starts
	// an agent with the new configuration.
	Stale func() bool
	// TrimAfter is how long after the last call the agent returns freed
	// memory to the system; default 5s, negative never.
	TrimAfter time.Duration
	// Logger; nil discards.
	Logger hclog.Logger
}

// Serve answers on s until ctx ends (SIGTERM, `agent stop`) or the agent
// has been idle for o.IdleTimeout and o.HoldUntil has passed. Then it
// stops accepting, lets calls in flight finish (5 s at most), closes s,
// runs o.Shutdown, and waits until o.Unsaved succeeds. It returns nil
// after an idle or requested exit.
func Serve(ctx context.Context, s *Socket, o Options) error {
	logger := o.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	idle := NewIdle(o.IdleTimeout)
	idle.Unused(o.UnusedTimeout)
	if o.HoldUntil != nil {
		idle.Hold(o.HoldUntil)
	}
	g := newGate(s, o.Stale, idle)
	srv := newServer(g)
	o.Register(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(s) }()
	stopExec, err := serveExec(s, o.Exec, cmp.Or(o.ExecReadTimeout, DefaultExecReadTimeout), g, logger)
	if err != nil {
		srv.Stop()
		return errors.Join(err, s.Close())
	}
	logger.Info("agent listening", "socket", s.Addr().String(), "idle_timeout", o.IdleTimeout.String(),
		"unused_timeout", o.UnusedTimeout.String(), "pid", os.Getpid())

	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	idled := make(chan error, 1)
	go func() { idled <- idle.Wait(waitCtx) }()
	if o.TrimAfter >= 0 {
		go idle.TrimWhenQuiet(waitCtx, cmp.Or(o.TrimAfter, 5*time.Second), trim)
	}
	serveErr := awaitExit(ctx, idled, g.retired, served, o, logger)
	_ = s.exec.unlink()
	stopGracefully(srv, 5*time.Second)
	stopExec(5 * time.Second)
	err = errors.Join(serveErr, s.Close())
	err = errors.Join(err, shutdown(o, logger))
	holdUnsaved(o, logger)
	return err
}

// trim hands what an idle agent does not use back to the system: freed
// heap, and the pages of code it ran only while starting (releaseCode).
func trim() {
	debug.FreeOSMemory()
	releaseCode()
}

// holdUnsaved keeps the exiting agent alive until o.Unsaved reports that
// nothing unsaved is held. A second signal does not cut it short: the
// token it holds may be the only valid one. It logs why, never the value.
func holdUnsaved(o Options, logger hclog.Logger) {
	if o.Unsaved == nil {
		return
	}
	period := cmp.Or(o.UnsavedRetry, 5*time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), period)
		err := o.Unsaved(ctx)
		cancel()
		if err == nil {
			return
		}
		logger.Error("not exiting: holding a rotated token that is not stored yet; retrying", "retry_in", period, "error", err)
		time.Sleep(period)
	}
}

// awaitExit returns when the agent should exit: a stop request (ctx), the
// idle timeout, a stale configuration, or a failed server (its error).
func awaitExit(ctx context.Context, idled <-chan error, retired <-chan struct{}, served <-chan error, o Options, logger hclog.Logger) error {
	select {
	case <-ctx.Done():
		logger.Info("agent stopping", "reason", context.Cause(ctx))
	case <-idled:
		logger.Info("agent idle, exiting", "idle_timeout", o.IdleTimeout)
	case <-retired:
		logger.Info("configuration file changed, exiting")
	case err := <-served:
		select {
		case <-retired: // the listener was closed on purpose
			logger.Info("configuration file changed, exiting")
		default:
			logger.Error("agent server failed", "error", err)
			return err
		}
	}
	return nil
}

// newServer is the gRPC server of the agent: every call passes g.
func newServer(g *gate) *grpc.Server {
	return grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !g.enter() {
			return nil, status.Error(codes.Unavailable, exitingMessage)
		}
		resp, err := h(ctx, req)
		g.leave(err == nil && info.FullMethod == tokenkeeperv1.TokenService_GetToken_FullMethodName)
		return resp, err
	}))
}

func stopGracefully(srv *grpc.Server, limit time.Duration) {
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		srv.Stop()
	}
}

func shutdown(o Options, logger hclog.Logger) error {
	if o.Shutdown == nil {
		return nil
	}
	limit := o.ShutdownTimeout
	if limit <= 0 {
		limit = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := o.Shutdown(ctx); err != nil {
		logger.Warn("could not revoke every profile", "error", err)
		return fmt.Errorf("could not revoke on exit: %w", err)
	}
	logger.Info("revoked every profile")
	return nil
}
