package plugin

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

// InProcess serves svc's TokenService to a client in this process, with
// no network, no goroutine and no serialization: host.NewClient(
// plugin.InProcess(k, nil), nil) is a *host.Client over a local keeper.
// The CLI's --no-agent path can use it to share every conversion and error
// status with the agent and plugin paths (keeper → proto here, proto →
// host in package host) instead of converting keeper types itself.
func InProcess(svc Service, logger hclog.Logger) grpc.ClientConnInterface {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &inProcess{srv: &server{svc: svc, logger: logger}}
}

// InProcessRelay is InProcess for calls relayed for a caller in another
// process (the agent's exec socket, whose header carries the caller's
// remaining time): as the gRPC server does, it answers a reply reserve
// before the deadline (answerInTime), so the caller gets the answer
// naming the cause, not its own timeout.
func InProcessRelay(svc Service, logger hclog.Logger) grpc.ClientConnInterface {
	c := InProcess(svc, logger).(*inProcess)
	c.srv.reserve = true
	return c
}

// inProcess dispatches unary calls straight to the server's methods.
type inProcess struct{ srv *server }

// Invoke implements grpc.ClientConnInterface.
func (c *inProcess) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	resp, err := c.call(ctx, method, args)
	if err != nil {
		return err
	}
	out, ok := reply.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "in-process %s: reply %T is not a proto message", method, reply)
	}
	proto.Reset(out)
	proto.Merge(out, resp)
	return nil
}

func (c *inProcess) call(ctx context.Context, method string, args any) (proto.Message, error) {
	switch req := args.(type) {
	case *tokenkeeperv1.GetTokenRequest:
		return nonNil(c.srv.GetToken(ctx, req))
	case *tokenkeeperv1.InvalidateRequest:
		return nonNil(c.srv.Invalidate(ctx, req))
	case *tokenkeeperv1.RevokeRequest:
		return nonNil(c.srv.Revoke(ctx, req))
	case *tokenkeeperv1.ListProfilesRequest:
		return nonNil(c.srv.ListProfiles(ctx, req))
	}
	return nil, status.Errorf(codes.Unimplemented, "in-process TokenService: no method %s for %T", method, args)
}

// nonNil turns a typed nil response into a nil interface, so a failed call
// cannot be mistaken for an empty answer.
func nonNil[M proto.Message](m M, err error) (proto.Message, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// NewStream implements grpc.ClientConnInterface; the TokenService has no
// streaming methods.
func (c *inProcess) NewStream(_ context.Context, _ *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, fmt.Sprintf("in-process TokenService: no stream %s", method))
}
