package plugin

import (
	"context"
	"time"
)

// Bounds of the reply reserve (see replyReserve).
const (
	minReplyReserve = 5 * time.Millisecond
	maxReplyReserve = 500 * time.Millisecond
)

// answerInTime returns ctx with a deadline a reply reserve earlier than the
// caller's, so that a Service call waiting for upstream until its context
// ends (the keeper retrying a refused connection) returns its own error —
// the profile, the URL, the last attempt's cause — while the caller still
// listens. Without the reserve the caller's deadline and the one gRPC
// propagates to the server pass at the same instant, and the caller sees
// its own bare DeadlineExceeded, or the RST_STREAM CANCEL of the server's
// transport, instead of the answer. A context without deadline is returned
// unchanged; cancel must be called either way.
func answerInTime(ctx context.Context, now time.Time) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline.Add(-replyReserve(deadline.Sub(now))))
}

// replyReserve is the part of the remaining time kept for the answer to
// travel back: 10 %, at least 5 ms and at most 500 ms, but never more than
// half of what remains. With nothing left it is zero: the Service still
// serves a cached token on an ended context.
func replyReserve(remaining time.Duration) time.Duration {
	r := min(max(remaining/10, minReplyReserve), maxReplyReserve)
	return max(min(r, remaining/2), 0)
}
