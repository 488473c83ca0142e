package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRuntimeDir(t *testing.T) {
	xdg := t.TempDir()
	dir, err := paths.RuntimeDir(env(map[string]string{"XDG_RUNTIME_DIR": xdg}))
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(xdg, "tokenkeeper") {
		t.Fatalf("dir = %s", dir)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if _, err := paths.RuntimeDir(env(map[string]string{"XDG_RUNTIME_DIR": xdg})); err != nil {
		t.Fatalf("second call: %v", err)
	}
}

func TestRuntimeDirRefusesUnsafe(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"group readable", func(t *testing.T, dir string) { mustDo(t, os.Mkdir(dir, 0o750)); mustDo(t, os.Chmod(dir, 0o750)) }},
		{"a file", func(t *testing.T, dir string) { mustDo(t, os.WriteFile(dir, nil, 0o600)) }},
		{"a symlink", func(t *testing.T, dir string) { mustDo(t, os.Symlink(t.TempDir(), dir)) }},
		{"another owner", func(t *testing.T, dir string) {
			if os.Getuid() != 0 {
				t.Skip("needs root to chown to another uid")
			}
			mustDo(t, os.Mkdir(dir, 0o700))
			mustDo(t, os.Chown(dir, 65534, 65534))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg := t.TempDir()
			tt.setup(t, filepath.Join(xdg, "tokenkeeper"))
			_, err := paths.RuntimeDir(env(map[string]string{"XDG_RUNTIME_DIR": xdg}))
			if !errors.Is(err, paths.ErrInsecureDir) {
				t.Fatalf("err = %v, want paths.ErrInsecureDir", err)
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPathsFor(t *testing.T) {
	root := shortRoot(t)
	a, _ := paths.Locate(root, "/etc/a.yaml", "")
	a2, _ := paths.Locate(root, "/etc/../etc/a.yaml", "")
	b, _ := paths.Locate(root, "/etc/b.yaml", "")
	if a != a2 {
		t.Fatalf("same file, different paths: %v %v", a, a2)
	}
	if a.Socket == b.Socket || a.Spawn == b.Spawn || a.Run == b.Run {
		t.Fatalf("different configs share files: %v %v", a, b)
	}
	if filepath.Dir(a.Socket) != root.Path() {
		t.Fatalf("socket outside the runtime dir: %s", a.Socket)
	}
}

// shortDir is a temp dir whose socket paths stay under the 108-byte limit.
func shortDir(t testing.TB) string {
	d, err := os.MkdirTemp("", "tka")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// shortRoot is a shortDir opened as a runtime directory.
func shortRoot(t testing.TB) *paths.Dir {
	d, err := paths.OpenDir(shortDir(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		i := NewIdle(10 * time.Minute)
		done := make(chan time.Time, 1)
		start := time.Now()
		go func() { _ = i.Wait(context.Background()); done <- time.Now() }()
		time.Sleep(9 * time.Minute)
		i.Begin() // a long call: never idle while it runs
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("idle while a call was in flight")
		default:
		}
		i.End()
		got := (<-done).Sub(start)
		if got < 49*time.Minute || got > 50*time.Minute {
			t.Fatalf("idle exit after %v, want 10m after the call ended (49m)", got)
		}
	})
}

func TestIdleCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		i := NewIdle(0)
		go cancel()
		if err := i.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v", err)
		}
	})
}

func TestServeStopsAndShutsDown(t *testing.T) {
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	s, err := Listen(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(timeout(t, 30*time.Millisecond), p, nil); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var shutdowns atomic.Int32
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, s, Options{
			Register: func(g *grpc.Server) { healthpb.RegisterHealthServer(g, health.NewServer()) },
			Shutdown: func(context.Context) error {
				if _, err := os.Stat(p.Socket); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("socket still there while revoking: %v", err)
				}
				shutdowns.Add(1)
				return nil
			},
		})
	}()
	cc, err := grpc.NewClient("unix://"+p.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := healthpb.NewHealthClient(cc).Check(timeout(t, 5*time.Second), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("call through the agent socket: %v", err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if shutdowns.Load() != 1 {
		t.Fatalf("Shutdown ran %d times", shutdowns.Load())
	}
	l, err := p.Dir.TryLock(filepath.Base(p.Run))
	if err != nil {
		t.Fatalf("run lock still held after exit: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestServeIdleExit: with nothing else to end it (a context without
// deadline), Serve returns on its own once idle, and revokes.
func TestServeIdleExit(t *testing.T) {
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	s, err := Listen(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var revoked atomic.Bool
	served := serveUntil(t, s, Options{
		Register:    func(g *grpc.Server) {},
		IdleTimeout: 20 * time.Millisecond,
		Shutdown:    func(context.Context) error { revoked.Store(true); return nil },
	})
	if err := served(5*time.Second, "a 20 ms idle timeout"); err != nil || !revoked.Load() {
		t.Fatalf("Serve = %v, revoked %v", err, revoked.Load())
	}
}

// serveUntil runs Serve on a context without deadline, so that only the
// agent's own reasons end it. The returned function waits for Serve's
// result; when limit passes first it fails the test (naming what should
// have ended Serve), after cancelling and reaping Serve.
func serveUntil(t *testing.T, s *Socket, o Options) func(limit time.Duration, what string) error {
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, s, o) }()
	t.Cleanup(func() { cancel() })
	return func(limit time.Duration, what string) error {
		watchdog := time.NewTimer(limit)
		defer watchdog.Stop()
		select {
		case err := <-served:
			return err
		case <-watchdog.C:
			cancel()
			<-served
			t.Fatalf("Serve did not exit within %s after %s", limit, what)
			return nil
		}
	}
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestTrimWhenQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		i := NewIdle(time.Hour)
		var trims atomic.Int32
		go i.TrimWhenQuiet(ctx, 5*time.Second, func() { trims.Add(1) })
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if trims.Load() != 1 {
			t.Fatalf("%d trims after the first quiet period, want 1", trims.Load())
		}
		time.Sleep(time.Minute) // still quiet: no second trim
		synctest.Wait()
		if trims.Load() != 1 {
			t.Fatalf("%d trims while nothing happened, want 1", trims.Load())
		}
		i.Begin()
		time.Sleep(20 * time.Second) // never while a call runs
		synctest.Wait()
		if trims.Load() != 1 {
			t.Fatal("trimmed during a call")
		}
		i.End()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if trims.Load() != 1 {
			t.Fatal("trimmed before the quiet period passed")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if trims.Load() != 2 {
			t.Fatalf("%d trims after the second burst, want 2", trims.Load())
		}
	})
}

func TestServeRetiresOnStaleConfig(t *testing.T) {
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	s, err := Listen(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stale, revoked atomic.Bool
	served := serveUntil(t, s, Options{
		Register: func(g *grpc.Server) { healthpb.RegisterHealthServer(g, health.NewServer()) },
		Stale:    stale.Load,
		Shutdown: func(context.Context) error { revoked.Store(true); return nil },
	})
	cc, err := grpc.NewClient("unix://"+p.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	if _, err := hc.Check(timeout(t, 5*time.Second), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	stale.Store(true)
	_, err = hc.Check(timeout(t, 5*time.Second), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call after the config changed: %v, want Unavailable", err)
	}
	if err := served(5*time.Second, "the configuration changed"); err != nil || !revoked.Load() {
		t.Fatalf("Serve = %v, revoked %v", err, revoked.Load())
	}
	if _, err := os.Stat(p.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
}
