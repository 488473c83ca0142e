package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// waitingService waits like the keeper retrying an unreachable upstream:
// Get returns only when its context ends, with an error naming the last
// attempt's cause — or, with hang set, only when the test ends.
type waitingService struct {
	fakeService
	hang chan struct{}
}

func (w *waitingService) Get(ctx context.Context, profile string, _ keeper.GetOptions) (keeper.Token, error) {
	if w.hang != nil {
		<-w.hang
		return keeper.Token{}, errors.New("too late")
	}
	<-ctx.Done()
	last := &provider.Error{Op: "login", Method: "POST", Path: "/v1/tokens", Kind: provider.ErrUnavailable,
		Err: errors.New("dial tcp 127.0.0.1:9: connect: connection refused")}
	return keeper.Token{}, fmt.Errorf("profile %q: gave up waiting for upstream: last attempt: %w: %w", profile, last, ctx.Err())
}

// The caller's deadline and the one gRPC propagates to the server pass at
// the same instant; the server answers a reserve earlier, so the caller
// gets the keeper's error — Unavailable, the profile, the cause — rather
// than its own bare DeadlineExceeded or RST_STREAM CANCEL.
func TestClientGetsKeeperErrorBeforeDeadline(t *testing.T) {
	c := serve(t, &waitingService{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.Token(ctx, "sddc", TokenOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.Unavailable || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want the server's Unavailable", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the answer came after the caller's deadline: %v", ctx.Err())
	}
	for _, want := range []string{`profile "sddc"`, "connection refused"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not contain %q", e.Message, want)
		}
	}
	if got := err.Error(); strings.Count(got, `profile "sddc"`) != 1 {
		t.Errorf("error %q names the profile %d times, want once", got, strings.Count(got, `profile "sddc"`))
	}
}

// When no answer comes before the caller's context ends, the error is the
// caller's own, named by the profile, not gRPC's transport text.
func TestClientOwnDeadlineNamesProfile(t *testing.T) {
	tests := []struct {
		name     string
		cancel   bool // cancel instead of letting the deadline pass
		wantCode codes.Code
		wantErr  error
		wantMsg  string
	}{
		{"deadline", false, codes.DeadlineExceeded, context.DeadlineExceeded, `profile "sddc": no answer from tokenkeeper within `},
		{"canceled", true, codes.Canceled, context.Canceled, `profile "sddc": canceled after `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hang := make(chan struct{})
			c := serve(t, &waitingService{hang: hang})
			t.Cleanup(func() { close(hang) }) // runs before serve's cleanup stops the server
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if tt.cancel {
				ctx, cancel = context.WithCancel(context.Background())
				defer cancel()
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			_, err := c.Token(ctx, "sddc", TokenOptions{})
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.wantCode || !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %#v, want *Error %s matching %v", err, tt.wantCode, tt.wantErr)
			}
			if !strings.HasPrefix(e.Message, tt.wantMsg) {
				t.Errorf("message %q, want prefix %q", e.Message, tt.wantMsg)
			}
			if got := err.Error(); strings.Contains(got, "rpc error") || strings.Contains(got, "desc =") ||
				strings.Count(got, `profile "sddc"`) != 1 {
				t.Errorf("error %q: want the profile once and no gRPC text", got)
			}
		})
	}
}

// A server that resets the stream on the forwarded deadline a moment before
// the caller's own timer fires still gives the caller's deadline error, not
// gRPC's transport text (a flake seen under load).
func TestServerResetJustBeforeDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rst := status.Error(codes.Canceled, "stream terminated by RST_STREAM with error code: CANCEL")
	err := fromCall(ctx, "get token", "sddc", time.Now(), rst)
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %#v, want *Error DeadlineExceeded", err)
	}
	if !strings.HasPrefix(e.Message, `profile "sddc": no answer from tokenkeeper within `) {
		t.Errorf("message %q", e.Message)
	}
}
