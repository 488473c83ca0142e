package host

import (
	"errors"

	"google.golang.org/grpc/codes"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// Document is the Token document of t (package host/exec) with url and
// caFile, those of its profile ("" leaves them out): what
// `tokenkeeper get --format json` prints and what the agent answers on
// its exec socket, built here only so that both are the same bytes. It is
// the one place a token leaves its Secret wrappers for a document: build
// it only to write it out.
func Document(t *Token, url, caFile string) exec.Token {
	return exec.NewToken(exec.Token{
		Profile: t.Profile, Provider: t.Provider, Token: t.Access.Reveal(), TokenType: t.TokenType,
		Header:    exec.Header{Name: t.HeaderName, Value: t.HeaderValue.Reveal()},
		ExpiresAt: t.ExpiresAt, Fingerprint: t.Fingerprint,
		ShorterThanRequested: t.ShorterThanRequested,
		Principal:            t.Principal, Role: t.Role,
		URL: url, CAFile: caFile,
	})
}

// execCodes map a gRPC code (and, for FailedPrecondition, the ErrorInfo
// reason) to the code of the Error document; the first matching rule
// wins, reason "" matches any reason. It is the only table: the CLI and
// the agent's exec socket both classify with ExecCode.
var execCodes = []struct {
	code   codes.Code
	reason string
	exec   exec.Code
}{
	{codes.NotFound, "", exec.CodeNotFound},
	{codes.InvalidArgument, "", exec.CodeInvalidArgument},
	{codes.FailedPrecondition, wire.ReasonBadConfig, exec.CodeBadConfig},
	{codes.FailedPrecondition, "", exec.CodeFailedPrecondition}, // the lockout guard
	{codes.Unauthenticated, "", exec.CodeUnauthenticated},
	{codes.PermissionDenied, "", exec.CodePermissionDenied},
	{codes.Unavailable, "", exec.CodeUnavailable},
	{codes.DeadlineExceeded, "", exec.CodeUnavailable},
}

// ExecCode is the code an Error document carries for a TokenService
// status of code and ErrorInfo reason; CodeInternal for any other.
func ExecCode(code codes.Code, reason string) exec.Code {
	for _, r := range execCodes {
		if r.code == code && (r.reason == "" || r.reason == reason) {
			return r.exec
		}
	}
	return exec.CodeInternal
}

// ExecError is the *exec.Error of err when it is a failed call's *Error:
// its ExecCode, the plugin's own words as message, and the lockout
// guard's retry time. ok is false for any other error.
func ExecError(err error) (e *exec.Error, ok bool) {
	var he *Error
	if !errors.As(err, &he) {
		return nil, false
	}
	msg := err.Error()
	if he.Message != "" {
		msg = he.Message // the code is in the document
	}
	e = &exec.Error{Code: ExecCode(he.Code, he.Reason), Message: msg, Err: err}
	if e.Code == exec.CodeFailedPrecondition {
		e.RetryAt = he.RetryAt
	}
	return e, true
}
