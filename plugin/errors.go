package plugin

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of tokenkeeper errors.
const ErrorDomain = "tokenkeeper.v1"

// ErrorInfo reasons attached to FailedPrecondition, the one code with two
// meanings here. Hosts tell them apart by reason, never by message.
const (
	// ReasonLockoutGuard: the login was not attempted because the
	// credential was rejected recently; metadata "retry_at" (RFC 3339)
	// says when the keeper will try again, and a RetryInfo detail carries
	// the delay.
	ReasonLockoutGuard = "LOCKOUT_GUARD"
	// ReasonBadConfig: the profile cannot work as configured (TLS
	// verification, no common API version, malformed URL). Fix the
	// configuration; retrying changes nothing.
	ReasonBadConfig = "BAD_CONFIG"
)

// toStatus maps an error of the keeper or a provider to the gRPC status of
// DESIGN.md. The message is err.Error(), secret-free by the providers'
// contract. The order matters: a GuardError also matches
// ErrCredentialsRejected, and a provider error may wrap a context error.
//
//	keeper.ErrUnknownProfile            NotFound
//	keeper.ErrMinValidity               InvalidArgument (tokens never live that long)
//	*keeper.GuardError                  FailedPrecondition + ErrorInfo LOCKOUT_GUARD + RetryInfo
//	provider.ErrBadConfig               FailedPrecondition + ErrorInfo BAD_CONFIG
//	provider.ErrCredentialsRejected     Unauthenticated
//	provider.ErrForbidden               PermissionDenied
//	provider.ErrUnavailable,
//	keeper.ErrClosed, deadline exceeded Unavailable
//	context.Canceled                    Canceled
//	a gRPC status (forwarded)           unchanged
//	anything else                       Internal
//
// Bad configuration is FailedPrecondition rather than InvalidArgument:
// the request is fine, the system is not in a state to serve it.
func toStatus(err error, now time.Time) *status.Status {
	msg := err.Error()
	var guard *keeper.GuardError
	switch {
	case errors.Is(err, keeper.ErrUnknownProfile):
		return status.New(codes.NotFound, msg)
	case errors.Is(err, keeper.ErrMinValidity):
		return status.New(codes.InvalidArgument, msg)
	case errors.As(err, &guard):
		return guardStatus(guard, msg, now)
	case errors.Is(err, provider.ErrBadConfig):
		return withDetails(status.New(codes.FailedPrecondition, msg),
			&errdetails.ErrorInfo{Reason: ReasonBadConfig, Domain: ErrorDomain})
	case errors.Is(err, provider.ErrCredentialsRejected):
		return status.New(codes.Unauthenticated, msg)
	case errors.Is(err, provider.ErrForbidden):
		return status.New(codes.PermissionDenied, msg)
	case errors.Is(err, provider.ErrUnavailable), errors.Is(err, keeper.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.Unavailable, msg)
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, msg)
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.New(codes.Internal, msg)
}

func guardStatus(g *keeper.GuardError, msg string, now time.Time) *status.Status {
	st := status.New(codes.FailedPrecondition, msg)
	info := &errdetails.ErrorInfo{
		Reason:   ReasonLockoutGuard,
		Domain:   ErrorDomain,
		Metadata: map[string]string{"profile": g.Profile},
	}
	if g.RetryAt.IsZero() {
		return withDetails(st, info)
	}
	info.Metadata["retry_at"] = g.RetryAt.UTC().Format(time.RFC3339Nano)
	delay := max(g.RetryAt.Sub(now), 0)
	return withDetails(st, info, &errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
}

// withDetails attaches details; should that ever fail, the bare status still
// carries code and message.
func withDetails(st *status.Status, details ...protoadapt.MessageV1) *status.Status {
	if d, err := st.WithDetails(details...); err == nil {
		return d
	}
	return st
}
