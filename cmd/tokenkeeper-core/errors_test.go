package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

func TestClassify(t *testing.T) {
	agentErr := func(c codes.Code, reason string) error {
		return &host.Error{Op: "get token", Profile: "p", Code: c, Reason: reason, Message: "from the agent"}
	}
	tests := []struct {
		name string
		err  error
		code exec.Code
		exit int
	}{
		{"agent NotFound", agentErr(codes.NotFound, ""), exec.CodeNotFound, 2},
		{"keeper unknown profile", keeper.ErrUnknownProfile, exec.CodeNotFound, 2},
		{"config unknown profile", config.ErrUnknownProfile, exec.CodeNotFound, 2},
		{"agent InvalidArgument", agentErr(codes.InvalidArgument, ""), exec.CodeInvalidArgument, 2},
		{"keeper min validity", keeper.ErrMinValidity, exec.CodeInvalidArgument, 2},
		{"agent bad config", agentErr(codes.FailedPrecondition, wire.ReasonBadConfig), exec.CodeBadConfig, 2},
		{"provider bad config", &provider.Error{Op: "login", Kind: provider.ErrBadConfig}, exec.CodeBadConfig, 2},
		{"secret insecure", &secret.Error{Ref: "file /x", Err: secret.ErrInsecurePermissions}, exec.CodeBadConfig, 2},
		{"secret command failing", &secret.Error{Ref: "command false", Err: secret.ErrCommandFailed}, exec.CodeBadConfig, 2},
		{"config error", &config.Error{Msg: "bad"}, exec.CodeBadConfig, 2},
		{"runtime dir", paths.ErrInsecureDir, exec.CodeBadConfig, 2},
		{"agent Unauthenticated", agentErr(codes.Unauthenticated, ""), exec.CodeUnauthenticated, 3},
		{"provider rejected", &provider.Error{Op: "login", Status: 400, Kind: provider.ErrCredentialsRejected}, exec.CodeUnauthenticated, 3},
		{"agent lockout guard", agentErr(codes.FailedPrecondition, wire.ReasonLockoutGuard), exec.CodeFailedPrecondition, 3},
		{"agent FailedPrecondition without reason", agentErr(codes.FailedPrecondition, ""), exec.CodeFailedPrecondition, 3},
		{"keeper guard", &keeper.GuardError{Profile: "p", Cause: provider.ErrCredentialsRejected}, exec.CodeFailedPrecondition, 3},
		{"agent PermissionDenied", agentErr(codes.PermissionDenied, ""), exec.CodePermissionDenied, 4},
		{"provider forbidden", provider.ErrForbidden, exec.CodePermissionDenied, 4},
		{"agent Unavailable", agentErr(codes.Unavailable, ""), exec.CodeUnavailable, 5},
		{"agent DeadlineExceeded", agentErr(codes.DeadlineExceeded, ""), exec.CodeUnavailable, 5},
		{"deadline", context.DeadlineExceeded, exec.CodeUnavailable, 5},
		{"agent not ready", agentconn.ErrNotReady, exec.CodeUnavailable, 5},
		{"rotated token not stored", fmt.Errorf("not stored: %w (%w)", &secret.Error{Ref: "file /sa", Err: errors.New("disk full")}, provider.ErrUnavailable), exec.CodeUnavailable, 5},
		{"agent Internal", agentErr(codes.Internal, ""), exec.CodeInternal, 1},
		{"surprise", errors.New("surprise"), exec.CodeInternal, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(fmt.Errorf("wrapped: %w", tt.err))
			if e.Code != tt.code || e.Code.ExitCode() != tt.exit {
				t.Fatalf("classify(%v) = %s (exit %d), want %s (exit %d)", tt.err, e.Code, e.Code.ExitCode(), tt.code, tt.exit)
			}
		})
	}
}

// TestClassifyAgreesWithTheAgent: an error of an in-process keeper and the
// same error reported by the agent (through the TokenService's status)
// get the same code. Two classifiers disagreeing here made a VCD profile
// with a failing password command exit 2 without agent and 1 with one.
func TestClassifyAgreesWithTheAgent(t *testing.T) {
	errs := []error{
		&secret.Error{Ref: "command false", Err: secret.ErrCommandFailed},
		&provider.Error{Op: "login", Kind: provider.ErrBadConfig},
		&provider.Error{Op: "login", Kind: provider.ErrCredentialsRejected},
		&keeper.GuardError{Profile: "p", Cause: provider.ErrCredentialsRejected},
		keeper.ErrUnknownProfile, keeper.ErrMinValidity, provider.ErrForbidden,
		provider.ErrUnavailable, errors.New("surprise"),
	}
	for _, err := range errs {
		t.Run(err.Error(), func(t *testing.T) {
			local := classify(err)
			remote := classify(viaAgent(t, err))
			if local.Code != remote.Code {
				t.Fatalf("in-process %s, through the agent %s", local.Code, remote.Code)
			}
		})
	}
}

// failing is a plugin.Service whose every Get fails with err.
type failing struct{ err error }

func (f failing) Get(context.Context, string, keeper.GetOptions) (keeper.Token, error) {
	return keeper.Token{}, f.err
}
func (f failing) Invalidate(context.Context, string, string, string) (bool, error) {
	return false, f.err
}
func (f failing) Revoke(context.Context, string) error { return f.err }
func (f failing) Status() []keeper.Status              { return nil }

// viaAgent is err as a host client sees it from a TokenService on
// loopback: the path of every call through the agent.
func viaAgent(t *testing.T, err error) error {
	t.Helper()
	lis, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	s := grpc.NewServer()
	plugin.Register(s, failing{err}, nil)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	cc, cerr := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if cerr != nil {
		t.Fatal(cerr)
	}
	c := host.NewClient(cc, cc.Close)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, got := c.Token(ctx, "p", host.TokenOptions{})
	if got == nil {
		t.Fatal("the fake agent handed out a token")
	}
	return got
}
