package vault

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	vaultconn "github.com/tokenkeeper/tokenkeeper/plugin/vault"
)

// classify maps the engine's answers to tokenkeeper's classes, so that
// `tokenkeeper get` exits as if the engine's keeper were its own. The
// engine (host/vault/engine, codedError) answers with an HTTP status per
// class and a message starting with the gRPC code, the ErrorInfo reason
// and the guard's retry time: "FailedPrecondition LOCKOUT_GUARD
// retry_at=…: …".
//
//	401 Unauthenticated                 provider.ErrCredentialsRejected (exit 3)
//	423 FailedPrecondition LOCKOUT_GUARD *provider.GuardRefusal (the keeper's GuardError: exit 3, retryAt)
//	409 FailedPrecondition BAD_CONFIG   provider.ErrBadConfig (exit 2)
//	400 InvalidArgument                 provider.ErrMinValidity (the keeper's: exit 2)
//	404 (no such profile or mount)      provider.ErrBadConfig (exit 2)
//	403 (Vault's policy, or the role)   provider.ErrForbidden (exit 4)
//	429, 5xx (sealed, down)             provider.ErrUnavailable (exit 5)
//
// Failures to reach Vault and Vault's refusal of tokenkeeper's own login
// come classified from plugin/vault (ErrUnavailable, ErrForbidden, …) and
// stay so.
func classify(err error, upstream string) error {
	var ve *vaultconn.Error
	if !errors.As(err, &ve) || ve.Status == 0 || (ve.Op != "read" && ve.Op != "write") {
		return err
	}
	a := parseAnswer(ve.Msg)
	ve.Msg = a.rest
	switch {
	case ve.Status == http.StatusLocked && a.reason == reasonLockoutGuard:
		ve.Kind = nil
		return &provider.GuardRefusal{Upstream: upstream, RetryAt: a.retryAt, Cause: ve}
	case ve.Status == http.StatusUnauthorized:
		ve.Kind = provider.ErrCredentialsRejected
	case ve.Status == http.StatusBadRequest && a.code == "InvalidArgument":
		ve.Kind = provider.ErrMinValidity
	case ve.Status == http.StatusForbidden:
		ve.Kind = provider.ErrForbidden
	case ve.Status == http.StatusTooManyRequests || ve.Status >= 500:
		ve.Kind = provider.ErrUnavailable
	default:
		ve.Kind = provider.ErrBadConfig
	}
	return ve
}

// reasonLockoutGuard is the ErrorInfo reason of the engine's guard
// refusal, wire.ReasonLockoutGuard (a test checks), spelt out here so
// that a provider links no agent protocol.
const reasonLockoutGuard = "LOCKOUT_GUARD"

// answer is an engine error message taken apart.
type answer struct {
	code, reason string
	retryAt      time.Time
	rest         string // the message after the prefix (all of it without one)
}

// parseAnswer reads "Code[ REASON][ retry_at=T]: rest". A message of
// Vault's own (no code prefix) is all rest.
func parseAnswer(msg string) answer {
	head, rest, ok := strings.Cut(msg, ": ")
	fields := strings.Fields(head)
	if !ok || len(fields) == 0 || len(fields) > 3 || !isCode(fields[0]) {
		return answer{rest: msg}
	}
	a := answer{code: fields[0], rest: rest}
	for _, f := range fields[1:] {
		if at, ok := strings.CutPrefix(f, "retry_at="); ok {
			a.retryAt, _ = time.Parse(time.RFC3339Nano, at)
		} else {
			a.reason = f
		}
	}
	return a
}

// isCode: one of the gRPC code names the engine starts its messages with.
func isCode(s string) bool {
	switch s {
	case "NotFound", "InvalidArgument", "FailedPrecondition", "Unauthenticated", "PermissionDenied",
		"Unavailable", "Canceled", "Internal":
		return true
	}
	return false
}
