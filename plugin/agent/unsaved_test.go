package agent

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// TestServeHoldsUnsaved: an agent that is asked to stop (SIGTERM, agent
// stop) or idles out while it holds a rotated token it could not store
// does not return until the token is stored, retrying and logging
// (without the value) meanwhile.
func TestServeHoldsUnsaved(t *testing.T) {
	for _, why := range []string{"stop", "idle"} {
		t.Run(why, func(t *testing.T) {
			p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
			s, err := Listen(context.Background(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			var attempts, shutdowns atomic.Int32
			logs := &testutil.SyncBuffer{}
			o := Options{
				Register: func(*grpc.Server) {},
				Shutdown: func(context.Context) error { shutdowns.Add(1); return nil },
				Unsaved: func(context.Context) error {
					if attempts.Add(1) < 4 {
						return errors.New("could not store the rotated token in /run/robot: device or resource busy")
					}
					return nil
				},
				UnsavedRetry: 10 * time.Millisecond,
				Logger:       hclog.New(&hclog.LoggerOptions{Output: logs}),
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if why == "idle" {
				o.IdleTimeout = 20 * time.Millisecond
			} else {
				cancel()
			}
			served := make(chan error, 1)
			go func() { served <- Serve(ctx, s, o) }()
			select {
			case err := <-served:
				if err != nil {
					t.Fatalf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return after the token was stored")
			}
			if n := attempts.Load(); n != 4 || shutdowns.Load() != 1 {
				t.Fatalf("Serve returned after %d store attempts and %d shutdowns; want 4 and 1", n, shutdowns.Load())
			}
			if got := logs.String(); !strings.Contains(got, "not exiting: holding a rotated token") {
				t.Fatalf("the agent did not say why it stays: %q", got)
			}
		})
	}
}
