package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// Bounds of the plugin mode's calls: Launch (start and handshake), one
// token call, Close (go-plugin's Kill: Shutdown, 2 s of grace, SIGKILL,
// then the end of the plugin's output).
const (
	launchTimeout = 30 * time.Second
	callTimeout   = 30 * time.Second
	closeTimeout  = 20 * time.Second
)

// errHung is what within returns when f did not return in time.
var errHung = errors.New("did not return in time")

// launch runs host.Launch bounded by launchTimeout (its context and,
// should go-plugin block past it, a watchdog) and closes the client,
// bounded, at cleanup.
func launch(t testing.TB, o host.LaunchOptions) (*host.Client, error) {
	t.Helper()
	o.Env = append(privateDirs(t), o.Env...) // the caller's own settings win

	ctx, cancel := context.WithTimeout(context.Background(), launchTimeout)
	defer cancel()
	launched := make(chan *host.Client, 1)
	err := within(t, "host.Launch", launchTimeout+5*time.Second, func() error {
		c, err := host.Launch(ctx, o)
		launched <- c
		return err
	})
	if errors.Is(err, errHung) {
		// Should Launch return after all, its plugin must not outlive us.
		go func() {
			if c := <-launched; c != nil {
				_ = c.Close()
			}
		}()
	}
	if err != nil {
		return nil, err
	}
	c := <-launched
	t.Cleanup(func() { _ = closeClient(t, c) })
	return c, nil
}

// privateDirs gives a plugin child its own runtime, home, config and temp
// directories, so that its guard file and agent files never land in the
// invoking user's (issue 11 item 7).
func privateDirs(t testing.TB) []string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tkp") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	return []string{"XDG_RUNTIME_DIR=" + run, "HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_CACHE_HOME=" + dir, "TMPDIR=" + dir}
}

// closeClient closes c within closeTimeout; Close is idempotent, so the
// cleanup's second Close of a closed client returns at once.
func closeClient(t testing.TB, c *host.Client) error {
	t.Helper()
	return within(t, "host.Client.Close", closeTimeout, c.Close)
}

// callCtx is the context of one call to a launched plugin.
func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// within runs f and waits for it at most limit. A hang is an error of t
// naming what hung, with the stacks of the goroutines in go-plugin and
// host (f's goroutine stays behind; the test fails instead of blocking
// the package until its timeout).
func within(t testing.TB, what string, limit time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Errorf("%s did not return within %s; stacks:\n%s", what, limit, stacks("go-plugin", "tokenkeeper/host"))
		return fmt.Errorf("%s: %w", what, errHung)
	}
}

// stacks are the stacks of this process's goroutines that mention any of
// words.
func stacks(words ...string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, w := range words {
			if strings.Contains(g, w) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}
