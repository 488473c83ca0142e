package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// Sentinels for the gRPC codes of the TokenService; compare with errors.Is.
// Every error a Client method returns for a gRPC status is an *Error that
// matches one of them (or context.Canceled / context.DeadlineExceeded).
var (
	// ErrUnauthenticated: upstream rejected the credentials. Do not retry
	// in a loop; fix the secret.
	ErrUnauthenticated = errors.New("credentials rejected")
	// ErrPermissionDenied: authenticated, but the role is too weak.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrNotFound: no profile of that name is configured.
	ErrNotFound = errors.New("unknown profile")
	// ErrInvalidArgument: the request itself is malformed.
	ErrInvalidArgument = errors.New("invalid request")
	// ErrUnavailable: upstream (or the plugin) is down or timing out;
	// retrying later may help.
	ErrUnavailable = errors.New("unavailable")
	// ErrLockedOut: the lockout guard refuses to try a login that was
	// rejected recently; Error.RetryAt says when it will try again.
	ErrLockedOut = errors.New("login not attempted: credentials were rejected recently")
	// ErrBadConfig: the profile cannot work as configured (TLS
	// verification, malformed URL, no common API version).
	ErrBadConfig = errors.New("bad configuration")
	// ErrInternal: a bug or an upstream answer tokenkeeper cannot parse.
	ErrInternal = errors.New("internal error")
)

// Error is a failed TokenService call.
type Error struct {
	Op      string     // "get token", "invalidate token", "revoke", "list profiles"
	Profile string     // may be empty
	Code    codes.Code // the gRPC code
	// Message is the plugin's message, free of secrets — or, when the
	// caller's context ended before any answer (Code DeadlineExceeded or
	// Canceled), the client's own: `profile "x": no answer from
	// tokenkeeper within 5s`.
	Message string
	// Reason is the google.rpc.ErrorInfo reason of a FailedPrecondition
	// (wire.ReasonLockoutGuard, wire.ReasonBadConfig), or "".
	Reason string
	// RetryAt is when the lockout guard will try again (ErrLockedOut), or
	// zero.
	RetryAt time.Time
	kind    error
}

func (e *Error) Error() string {
	// The plugin's messages mostly begin with the profile already.
	if e.Profile == "" || strings.HasPrefix(e.Message, fmt.Sprintf("profile %q", e.Profile)) {
		return fmt.Sprintf("%s: %s: %s", e.Op, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: profile %q: %s: %s", e.Op, e.Profile, e.Code, e.Message)
}

// Unwrap returns the sentinel of the code, so errors.Is(err, ErrX) works.
func (e *Error) Unwrap() error { return e.kind }

// fromCall is fromRPC for a call begun at start. When the caller's own ctx
// ended before an answer came, the error says so under the profile —
// `profile "x": no answer from tokenkeeper within 5s` — instead of gRPC's
// transport text ("context deadline exceeded", "stream terminated by
// RST_STREAM with error code: CANCEL"); it matches ctx.Err() with
// errors.Is. The plugin answers a reserve before the deadline, so a late
// upstream shows as the plugin's Unavailable naming the cause, and this
// happens only when the plugin itself did not answer.
func fromCall(ctx context.Context, op, profile string, start time.Time, err error) error {
	if err == nil {
		return nil
	}
	code := status.Code(err)
	ctxErr := callerGaveUp(ctx, code)
	if ctxErr == nil || (code != codes.DeadlineExceeded && code != codes.Canceled) {
		return fromRPC(op, profile, err)
	}
	e := &Error{Op: op, Profile: profile, kind: ctxErr}
	e.Message = exec.NoAnswer(profile, time.Since(start), ctxErr)
	e.Code = codes.Canceled
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		e.Code = codes.DeadlineExceeded
	}
	return e
}

// deadlineSlack is how close to the caller's deadline a server-side
// cancellation counts as that deadline passing.
const deadlineSlack = time.Second

// callerGaveUp returns ctx.Err(), waiting for it when the server ended the
// call with code Canceled or DeadlineExceeded just before the caller's own
// deadline: gRPC sends the deadline along, so under load the server's
// timer can fire and reset the stream ("RST_STREAM with error code:
// CANCEL") a moment before the caller's does.
func callerGaveUp(ctx context.Context, code codes.Code) error {
	if err := ctx.Err(); err != nil || (code != codes.DeadlineExceeded && code != codes.Canceled) {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < deadlineSlack {
		<-ctx.Done()
	}
	return ctx.Err()
}

// fromRPC turns a gRPC error into an *Error; nil stays nil and an error
// without a status passes through wrapped.
func fromRPC(op, profile string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	e := &Error{Op: op, Profile: profile, Code: st.Code(), Message: st.Message(), Reason: wire.Reason(st)}
	e.kind, e.RetryAt = classify(st)
	return e
}

func classify(st *status.Status) (error, time.Time) {
	switch st.Code() {
	case codes.Unauthenticated:
		return ErrUnauthenticated, time.Time{}
	case codes.PermissionDenied:
		return ErrPermissionDenied, time.Time{}
	case codes.NotFound:
		return ErrNotFound, time.Time{}
	case codes.InvalidArgument:
		return ErrInvalidArgument, time.Time{}
	case codes.Unavailable:
		return ErrUnavailable, time.Time{}
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded, time.Time{}
	case codes.Canceled:
		return context.Canceled, time.Time{}
	case codes.FailedPrecondition:
		return failedPrecondition(st)
	}
	return ErrInternal, time.Time{}
}

// failedPrecondition tells the lockout guard from a bad configuration by the
// ErrorInfo reason; without one it is the guard, the code's meaning in
// DESIGN.md.
func failedPrecondition(st *status.Status) (error, time.Time) {
	info := wire.ErrorInfo(st)
	if info.GetReason() == wire.ReasonBadConfig {
		return ErrBadConfig, time.Time{}
	}
	at, err := time.Parse(time.RFC3339Nano, info.GetMetadata()["retry_at"])
	if err != nil {
		return ErrLockedOut, time.Time{}
	}
	return ErrLockedOut, at
}
