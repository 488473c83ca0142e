package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestInvalidateTimeoutBoundsStdin: invalidate reads its request the same
// way, bounded by its own --timeout.
func TestInvalidateTimeoutBoundsStdin(t *testing.T) {
	c := newCLITest(t, nil, testPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	o := c.runIn(ctx, openPipe(t, ""), "invalidate", "--timeout", "300ms")
	if d := time.Since(start); d > 3*time.Second || o.code != 2 ||
		!strings.Contains(o.stderr, "no complete InvalidateRequest on stdin in time (nothing arrived) before --timeout 300ms") {
		t.Fatalf("exit %d after %s, stderr %q", o.code, d, o.stderr)
	}
}
