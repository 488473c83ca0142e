package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		code exec.Code
		exit int
	}{
		{host.ErrNotFound, exec.CodeNotFound, 2},
		{keeper.ErrUnknownProfile, exec.CodeNotFound, 2},
		{host.ErrInvalidArgument, exec.CodeInvalidArgument, 2},
		{keeper.ErrMinValidity, exec.CodeInvalidArgument, 2},
		{host.ErrBadConfig, exec.CodeBadConfig, 2},
		{&provider.Error{Op: "login", Kind: provider.ErrBadConfig}, exec.CodeBadConfig, 2},
		{&secret.Error{Ref: "file /x", Err: secret.ErrInsecurePermissions}, exec.CodeBadConfig, 2},
		{agent.ErrInsecureDir, exec.CodeBadConfig, 2},
		{host.ErrUnauthenticated, exec.CodeUnauthenticated, 3},
		{&provider.Error{Op: "login", Status: 400, Kind: provider.ErrCredentialsRejected}, exec.CodeUnauthenticated, 3},
		{host.ErrLockedOut, exec.CodeFailedPrecondition, 3},
		{&keeper.GuardError{Profile: "p", Cause: provider.ErrCredentialsRejected}, exec.CodeFailedPrecondition, 3},
		{host.ErrPermissionDenied, exec.CodePermissionDenied, 4},
		{provider.ErrForbidden, exec.CodePermissionDenied, 4},
		{host.ErrUnavailable, exec.CodeUnavailable, 5},
		{context.DeadlineExceeded, exec.CodeUnavailable, 5},
		{agent.ErrNotReady, exec.CodeUnavailable, 5},
		{host.ErrInternal, exec.CodeInternal, 1},
		{errors.New("surprise"), exec.CodeInternal, 1},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			e := classify(fmt.Errorf("wrapped: %w", tt.err))
			if e.Code != tt.code || e.Code.ExitCode() != tt.exit {
				t.Fatalf("classify(%v) = %s (exit %d), want %s (exit %d)", tt.err, e.Code, e.Code.ExitCode(), tt.code, tt.exit)
			}
		})
	}
}
