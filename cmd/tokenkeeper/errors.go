package main

import (
	"errors"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// codeRules map a gRPC code (and, for FailedPrecondition, the ErrorInfo
// reason) to the code of the Error document. It is the only table: an
// error from the agent arrives as a status (*host.Error), an error of an
// in-process keeper (--no-agent, config check --online) is turned into one
// by plugin.ErrorStatus, the classifier the TokenService itself answers
// with — so one failure has one code whichever way it was asked for. The
// first matching rule wins; reason "" matches any reason.
var codeRules = []struct {
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

// classify turns any error of a CLI call into the *exec.Error that decides
// the exit code and the Error document. Messages come from errors that
// are secret-free by contract (providers, keeper, config, secret refs).
func classify(err error) *exec.Error {
	var e *exec.Error
	if errors.As(err, &e) {
		return e
	}
	code, reason, msg := statusOf(err)
	for _, r := range codeRules {
		if r.code == code && (r.reason == "" || r.reason == reason) {
			return &exec.Error{Code: r.exec, Message: msg, Err: err}
		}
	}
	return &exec.Error{Code: exec.CodeInternal, Message: msg, Err: err}
}

// statusOf is the gRPC code and ErrorInfo reason of err, and the message
// to show: the agent's own words for its statuses, else err's text.
func statusOf(err error) (codes.Code, string, string) {
	var he *host.Error
	if errors.As(err, &he) {
		msg := err.Error()
		if he.Message != "" {
			msg = he.Message // the agent's own words; the code is in the document
		}
		return he.Code, he.Reason, msg
	}
	if errors.Is(err, agent.ErrNotReady) {
		// The CLI's own error: the agent it started never answered.
		return codes.Unavailable, "", err.Error()
	}
	st := plugin.ErrorStatus(err, time.Now())
	return st.Code(), wire.Reason(st), st.Message()
}
