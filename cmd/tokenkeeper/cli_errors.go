package main

import (
	"context"
	"errors"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// codeRules classify an error by the first sentinel it matches: errors from
// the agent (host.ErrX, from gRPC codes) and from an in-process keeper
// (--no-agent, config check --online) land on the same codes. Order
// matters: a lockout GuardError also matches ErrCredentialsRejected.
var codeRules = []struct {
	err  error
	code exec.Code
}{
	{host.ErrNotFound, exec.CodeNotFound},
	{keeper.ErrUnknownProfile, exec.CodeNotFound},
	{config.ErrUnknownProfile, exec.CodeNotFound},
	{host.ErrInvalidArgument, exec.CodeInvalidArgument},
	{keeper.ErrMinValidity, exec.CodeInvalidArgument},
	{host.ErrBadConfig, exec.CodeBadConfig},
	{provider.ErrBadConfig, exec.CodeBadConfig},
	{agent.ErrInsecureDir, exec.CodeBadConfig},
	{host.ErrLockedOut, exec.CodeFailedPrecondition},
	{host.ErrUnauthenticated, exec.CodeUnauthenticated},
	{provider.ErrCredentialsRejected, exec.CodeUnauthenticated},
	{host.ErrPermissionDenied, exec.CodePermissionDenied},
	{provider.ErrForbidden, exec.CodePermissionDenied},
	{host.ErrUnavailable, exec.CodeUnavailable},
	{provider.ErrUnavailable, exec.CodeUnavailable},
	{keeper.ErrClosed, exec.CodeUnavailable},
	{agent.ErrNotReady, exec.CodeUnavailable},
	{context.DeadlineExceeded, exec.CodeUnavailable},
	{host.ErrInternal, exec.CodeInternal},
}

// classify turns any error of a CLI call into the *exec.Error that decides
// the exit code and the Error document. Messages come from errors that
// are secret-free by contract (providers, keeper, config, secret refs).
func classify(err error) *exec.Error {
	var e *exec.Error
	if errors.As(err, &e) {
		return e
	}
	var guard *keeper.GuardError
	if errors.As(err, &guard) {
		return &exec.Error{Code: exec.CodeFailedPrecondition, Message: err.Error(), Err: err}
	}
	// A secret that cannot be read (missing, world-readable, command
	// failing or hanging) is a configuration problem, not a rejection.
	var se *secret.Error
	var ce *config.Error
	if errors.As(err, &se) || errors.As(err, &ce) {
		return &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
	}
	msg := err.Error()
	var he *host.Error
	if errors.As(err, &he) && he.Message != "" {
		msg = he.Message // the agent's own words; the code is in the document
	}
	for _, r := range codeRules {
		if errors.Is(err, r.err) {
			return &exec.Error{Code: r.code, Message: msg, Err: err}
		}
	}
	return &exec.Error{Code: exec.CodeInternal, Message: msg, Err: err}
}
