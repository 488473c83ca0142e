package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// holder is a hand-written HoldUntil: the keeper's latest KeepAliveUntil,
// set and cleared by the test.
type holder struct {
	mu    sync.Mutex
	until time.Time
}

func (h *holder) set(t time.Time) { h.mu.Lock(); h.until = t; h.mu.Unlock() }
func (h *holder) get() time.Time  { h.mu.Lock(); defer h.mu.Unlock(); return h.until }

// TestIdleHold: a caller asked for a session valid 1 h; the keeper keeps it
// alive that long, so the agent must not exit (and revoke it) after its
// 15 min idle timeout, but right after the promise ends.
func TestIdleHold(t *testing.T) {
	tests := []struct {
		name string
		hold time.Duration // from the last call; 0 = no promise
		drop time.Duration // the promise ends early (session gone) at; 0 = never
		want time.Duration // exit after the last call
	}{
		{"no promise: the idle timeout", 0, 0, 15 * time.Minute},
		{"a promise shorter than the idle timeout", 10 * time.Minute, 0, 15 * time.Minute},
		{"a promise beyond the idle timeout", time.Hour, 0, time.Hour},
		{"a promise that ended early", 4 * time.Hour, 20 * time.Minute, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				i := NewIdle(15 * time.Minute)
				var h holder
				i.Hold(h.get)
				done := make(chan time.Time, 1)
				go func() { _ = i.Wait(context.Background()); done <- time.Now() }()
				i.Begin()
				start := time.Now()
				if tt.hold > 0 {
					h.set(start.Add(tt.hold)) // what the call promised
				}
				i.End()
				if tt.drop > 0 {
					time.Sleep(tt.drop)
					h.set(time.Time{})
				}
				if got := (<-done).Sub(start); got != tt.want {
					t.Fatalf("idle exit %v after the last call, want %v", got, tt.want)
				}
			})
		})
	}
}

// TestServeHoldsForKeepAlive: Serve passes HoldUntil to its idle wait, so
// the shutdown (revoking every session) waits for the promise. Real time,
// as TestServeIdleExit: the gRPC server blocks on the socket, which a
// synctest bubble does not count as idle.
func TestServeHoldsForKeepAlive(t *testing.T) {
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	s, err := Listen(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	until := start.Add(300 * time.Millisecond)
	var revokedAt atomic.Int64
	served := serveUntil(t, s, Options{
		Register:    func(*grpc.Server) {},
		IdleTimeout: 10 * time.Millisecond,
		HoldUntil:   func() time.Time { return until },
		Shutdown:    func(context.Context) error { revokedAt.Store(int64(time.Since(start))); return nil },
	})
	if err := served(10*time.Second, "a 300 ms keepalive promise"); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if got := time.Duration(revokedAt.Load()); got < 300*time.Millisecond {
		t.Fatalf("revoked %v after start, before the 300 ms keepalive promise", got)
	}
}
