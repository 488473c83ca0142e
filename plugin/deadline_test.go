package plugin

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

func TestReplyReserve(t *testing.T) {
	tests := []struct {
		remaining, want time.Duration
	}{
		{2 * time.Minute, 500 * time.Millisecond}, // capped
		{5 * time.Second, 500 * time.Millisecond},
		{3 * time.Second, 300 * time.Millisecond}, // 10 %
		{200 * time.Millisecond, 20 * time.Millisecond},
		{20 * time.Millisecond, 5 * time.Millisecond}, // floor
		{6 * time.Millisecond, 3 * time.Millisecond},  // at most half
		{0, 0},
		{-time.Second, 0}, // already past: no reserve, no later deadline
	}
	for _, tt := range tests {
		t.Run(tt.remaining.String(), func(t *testing.T) {
			if got := replyReserve(tt.remaining); got != tt.want {
				t.Errorf("replyReserve(%s) = %s, want %s", tt.remaining, got, tt.want)
			}
		})
	}
}

// deadlineService records the deadline of the context Get runs on.
type deadlineService struct {
	fakeService
	deadline time.Time
	has      bool
}

func (d *deadlineService) Get(ctx context.Context, profile string, o keeper.GetOptions) (keeper.Token, error) {
	d.deadline, d.has = ctx.Deadline()
	return d.fakeService.Get(ctx, profile, o)
}

// The TokenService runs the keeper call on a deadline a reserve before the
// caller's, so a keeper that waits for upstream until its context ends
// answers while the caller listens; in-process there is no one to race
// and the caller's deadline stands, as it does without a deadline.
func TestGetTokenRunsBeforeCallerDeadline(t *testing.T) {
	tests := []struct {
		name        string
		reserve     bool
		timeout     time.Duration
		wantReserve time.Duration
	}{
		{"remote", true, 3 * time.Second, 300 * time.Millisecond},
		{"remote long", true, time.Minute, 500 * time.Millisecond},
		{"in-process", false, 3 * time.Second, 0},
		{"no deadline", true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &deadlineService{}
			s := &server{svc: svc, logger: hclog.NewNullLogger(), reserve: tt.reserve}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			if _, err := s.GetToken(ctx, &tokenkeeperv1.GetTokenRequest{Profile: "p"}); err != nil {
				t.Fatal(err)
			}
			want, ok := ctx.Deadline()
			if svc.has != ok {
				t.Fatalf("service deadline set = %v, caller's = %v", svc.has, ok)
			}
			if !ok {
				return
			}
			// The reserve is 10 % of the time remaining a moment after
			// the caller set its deadline: allow for a slow moment.
			got := want.Sub(svc.deadline)
			if got < tt.wantReserve-50*time.Millisecond || got > tt.wantReserve {
				t.Errorf("service deadline %s before the caller's, want %s", got, tt.wantReserve)
			}
		})
	}
}

// TestInProcessRelayKeepsTheReserve: the in-process client the agent's
// exec socket answers through relays for a caller in another process,
// so it keeps the gRPC server's reply reserve; InProcess does not.
func TestInProcessRelayKeepsTheReserve(t *testing.T) {
	for _, tt := range []struct {
		name string
		conn func(Service, hclog.Logger) grpc.ClientConnInterface
		want time.Duration
	}{{"InProcess", InProcess, 0}, {"InProcessRelay", InProcessRelay, 300 * time.Millisecond}} {
		svc := &deadlineService{}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := tt.conn(svc, nil).Invoke(ctx, "", &tokenkeeperv1.GetTokenRequest{Profile: "p"}, &tokenkeeperv1.GetTokenResponse{})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		want, _ := ctx.Deadline()
		if got := want.Sub(svc.deadline); !svc.has || got < tt.want-50*time.Millisecond || got > tt.want {
			t.Errorf("%s: service deadline %s before the caller's, want %s", tt.name, got, tt.want)
		}
	}
}
