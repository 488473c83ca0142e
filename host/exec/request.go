package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// EnvProfile names the variable holding the default profile of get, env,
// exec, logout and proxy.
const EnvProfile = "TOKENKEEPER_PROFILE"

// ErrProfileRequired: a verb that needs a profile got none.
var ErrProfileRequired = Errorf(CodeInvalidArgument, "--profile is required (or set $%s)", EnvProfile)

// DefaultProfile is flag, else the value of $TOKENKEEPER_PROFILE (env),
// else ErrProfileRequired.
func DefaultProfile(flag, env string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env != "" {
		return env, nil
	}
	return "", ErrProfileRequired
}

// tokenRequestFlags are get's flags that say what a TokenRequest says.
var tokenRequestFlags = []string{"min-validity", "force-refresh", "allow-shorter"}

// Input is what get and invalidate know before they have a request.
type Input struct {
	// Set reports whether the caller gave the flag of this name.
	Set func(name string) bool
	// EnvProfile is $TOKENKEEPER_PROFILE (get only).
	EnvProfile string
	// Stdin and whether it is a terminal.
	Stdin         io.Reader
	StdinTerminal bool
	// Timeout is --timeout, for the message of a request that came late.
	Timeout time.Duration
}

// ResolveGet decides where get's request comes from, and reads it when
// it is on stdin. With --profile, or when stdin is a terminal or empty and
// $TOKENKEEPER_PROFILE is set, the request is the profile alone and the
// flags say the rest (fromStdin false). Otherwise it is the JSON
// TokenRequest on stdin (fromStdin true), and a flag that says what the
// request says is a usage error. A request on stdin always wins over the
// variable: a caller that sends one (the Ansible lookup) must never have
// its min validity dropped by a variable it did not set.
func ResolveGet(ctx context.Context, in Input, profile string) (req TokenRequest, fromStdin bool, err error) {
	if profile != "" {
		return TokenRequest{Profile: profile}, false, nil
	}
	p := in.EnvProfile
	if p == "" {
		if err := RequestFlags(in.Set, tokenRequestFlags...); err != nil {
			return TokenRequest{}, false, err
		}
	}
	if p != "" && in.StdinTerminal {
		return TokenRequest{Profile: p}, false, nil
	}
	doc, err := ReadRequestWithin(ctx, in.Stdin, KindTokenRequest, in.Timeout)
	if p != "" && errors.Is(err, ErrNoRequest) {
		return TokenRequest{Profile: p}, false, nil
	}
	if err != nil {
		return TokenRequest{}, false, err
	}
	if err := RequestFlags(in.Set, tokenRequestFlags...); err != nil {
		return TokenRequest{}, false, err
	}
	req, err = ParseTokenRequest(bytes.NewReader(doc))
	return req, err == nil, err
}

// ResolveInvalidate is the request of invalidate: flags (with --profile)
// or, without --profile, the JSON InvalidateRequest on stdin, which no
// --fingerprint or --reason may accompany.
func ResolveInvalidate(ctx context.Context, in Input, flags InvalidateRequest) (InvalidateRequest, error) {
	if flags.Profile == "" {
		if err := RequestFlags(in.Set, "fingerprint", "reason"); err != nil {
			return InvalidateRequest{}, err
		}
		doc, err := ReadRequestWithin(ctx, in.Stdin, KindInvalidateRequest, in.Timeout)
		if err != nil {
			return InvalidateRequest{}, err
		}
		return ParseInvalidateRequest(bytes.NewReader(doc))
	}
	if flags.Fingerprint == "" {
		return InvalidateRequest{}, Errorf(CodeInvalidArgument, "--fingerprint is required with --profile")
	}
	return flags, nil
}

// RequestFlags refuses flags that say what the JSON request on stdin says:
// one of the two would be silently ignored.
func RequestFlags(set func(string) bool, names ...string) error {
	for _, n := range names {
		if set(n) {
			return Errorf(CodeInvalidArgument, "--%s without --profile: use either --profile and flags, or a JSON request on stdin", n)
		}
	}
	return nil
}

// ReadRequestWithin is ReadRequest for a verb run with --timeout: a
// request that has not arrived when the timeout runs out is a bad
// request (exit 2) whose message names the timeout.
func ReadRequestWithin(ctx context.Context, r io.Reader, kind string, timeout time.Duration) ([]byte, error) {
	doc, err := ReadRequest(ctx, r, kind)
	var e *Error
	if errors.Is(err, context.DeadlineExceeded) && errors.As(err, &e) {
		return nil, &Error{Code: e.Code, Err: err, Message: fmt.Sprintf("%s before --timeout %s ran out; "+
			"without --profile, the request is read from stdin", e.Message, timeout)}
	}
	return doc, err
}
