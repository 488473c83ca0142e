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

	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// ErrorStatus is the one classification of tokenkeeper errors: it maps an error
// of the keeper, a provider, a secret reference or the configuration to the
// gRPC status of DESIGN.md. The TokenService answers with it (plugin mode,
// agent), and the CLI classifies its in-process errors (--no-agent) with
// it, so every path gives one failure one code. The message is
// err.Error(), secret-free by the contract of those packages; now computes
// the RetryInfo delay of the lockout guard. The order matters: a
// GuardError also matches ErrCredentialsRejected, a provider error may wrap
// a context error or a secret error (a rotated token that could not be
// stored is Unavailable, not BadConfig).
//
//	keeper/config.ErrUnknownProfile     NotFound
//	keeper.ErrMinValidity               InvalidArgument (tokens never live that long)
//	*keeper.GuardError                  FailedPrecondition + ErrorInfo LOCKOUT_GUARD + RetryInfo
//	keeper.ErrGuardStore                FailedPrecondition + ErrorInfo BAD_CONFIG
//	provider.ErrBadConfig               FailedPrecondition + ErrorInfo BAD_CONFIG
//	provider.ErrCredentialsRejected     Unauthenticated
//	provider.ErrForbidden               PermissionDenied
//	provider.ErrUnavailable,
//	keeper.ErrClosed, deadline exceeded Unavailable
//	context.Canceled                    Canceled
//	*secret.Error, *config.Error,
//	paths.ErrInsecureDir                FailedPrecondition + ErrorInfo BAD_CONFIG
//	a gRPC status (forwarded)           unchanged
//	anything else                       Internal
//
// Bad configuration is FailedPrecondition rather than InvalidArgument:
// the request is fine, the system is not in a state to serve it. A secret
// that cannot be read (missing, world-readable, a command failing or
// hanging) is bad configuration, not a rejection: no login was tried.
func ErrorStatus(err error, now time.Time) *status.Status {
	msg := err.Error()
	var guard *keeper.GuardError
	switch {
	case errors.Is(err, keeper.ErrUnknownProfile), errors.Is(err, config.ErrUnknownProfile):
		return status.New(codes.NotFound, msg)
	case errors.Is(err, keeper.ErrMinValidity):
		return status.New(codes.InvalidArgument, msg)
	case errors.As(err, &guard):
		return guardStatus(guard, msg, now)
	case errors.Is(err, keeper.ErrGuardStore):
		return badConfig(msg) // no login without the guard: fix the runtime directory
	case errors.Is(err, provider.ErrBadConfig):
		return badConfig(msg)
	case errors.Is(err, provider.ErrCredentialsRejected):
		return status.New(codes.Unauthenticated, msg)
	case errors.Is(err, provider.ErrForbidden):
		return status.New(codes.PermissionDenied, msg)
	case errors.Is(err, provider.ErrUnavailable), errors.Is(err, keeper.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.Unavailable, msg)
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, msg)
	case isConfigError(err):
		return badConfig(msg)
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.New(codes.Internal, msg)
}

// isConfigError: the profiles file, a secret reference or the runtime
// directory is wrong; a person must fix it.
func isConfigError(err error) bool {
	var se *secret.Error
	var ce *config.Error
	return errors.As(err, &se) || errors.As(err, &ce) || errors.Is(err, paths.ErrInsecureDir) ||
		errors.Is(err, paths.ErrNoRuntimeDir)
}

func badConfig(msg string) *status.Status {
	return withDetails(status.New(codes.FailedPrecondition, msg),
		&errdetails.ErrorInfo{Reason: wire.ReasonBadConfig, Domain: wire.ErrorDomain})
}

func guardStatus(g *keeper.GuardError, msg string, now time.Time) *status.Status {
	st := status.New(codes.FailedPrecondition, msg)
	info := &errdetails.ErrorInfo{
		Reason:   wire.ReasonLockoutGuard,
		Domain:   wire.ErrorDomain,
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
