package exec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Code classifies a failure; the names follow the gRPC codes the agent
// returns, so a caller sees the same word whichever way it asked.
type Code string

// The codes an Error document may carry.
const (
	CodeInvalidArgument    Code = "InvalidArgument"    // bad flags, bad request, bad config
	CodeNotFound           Code = "NotFound"           // unknown profile
	CodeBadConfig          Code = "BadConfig"          // profiles file, secret source, TLS trust, URL
	CodeUnauthenticated    Code = "Unauthenticated"    // credentials rejected
	CodeFailedPrecondition Code = "FailedPrecondition" // lockout guard refusing to try
	CodePermissionDenied   Code = "PermissionDenied"   // role too weak
	CodeUnavailable        Code = "Unavailable"        // upstream or agent down, timeouts
	CodeInternal           Code = "Internal"           // a bug or an unexpected failure
)

// Exit codes of the CLI (contract).
const (
	ExitOK          = 0
	ExitInternal    = 1
	ExitUsage       = 2 // usage, bad request or bad config
	ExitRejected    = 3 // credentials rejected or lockout guard refusing: do not retry
	ExitForbidden   = 4 // permission denied
	ExitUnavailable = 5 // upstream unavailable: retryable
)

// ExitCode maps a code to the process exit status.
func (c Code) ExitCode() int {
	switch c {
	case CodeInvalidArgument, CodeNotFound, CodeBadConfig:
		return ExitUsage
	case CodeUnauthenticated, CodeFailedPrecondition:
		return ExitRejected
	case CodePermissionDenied:
		return ExitForbidden
	case CodeUnavailable:
		return ExitUnavailable
	}
	return ExitInternal
}

// Retryable reports whether trying again later may succeed without any
// change by a human.
func (c Code) Retryable() bool { return c == CodeUnavailable }

// Error is a classified failure of one CLI call. Message must already be
// free of secrets; Err, if set, is kept for errors.Is/As only.
type Error struct {
	Code    Code
	Message string
	// RetryAt, if set, is when trying again may succeed: the lockout
	// guard's next attempt (code FailedPrecondition).
	RetryAt time.Time
	Err     error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(msg string) *Error { return &Error{Code: CodeInvalidArgument, Message: msg} }

// ErrorBody is the "error" member of an Error document.
type ErrorBody struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
	// RetryAt (RFC 3339, UTC) is present when the lockout guard refused:
	// the keeper will not try the same credential before then. It is an
	// optional extension of the v1 contract; clients must not require it.
	RetryAt string `json:"retryAt,omitempty"`
}

// ErrorDocument is what stdout holds when a call fails.
type ErrorDocument struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Error      ErrorBody `json:"error"`
}

// WriteError writes the one JSON Error document for e to w.
func WriteError(w io.Writer, e *Error) error {
	doc := ErrorDocument{APIVersion: APIVersion, Kind: KindError, Error: ErrorBody{
		Code: e.Code, Message: e.Message, Retryable: e.Code.Retryable(), RetryAt: FormatRetryAt(e.RetryAt),
	}}
	return writeJSON(w, doc)
}

// MarshalError is the Error document for e as WriteError writes it.
func MarshalError(e *Error) []byte {
	var b bytes.Buffer
	_ = WriteError(&b, e) // a buffer takes every write
	return b.Bytes()
}

// FormatRetryAt writes t as RFC 3339 in UTC, rounded up to the second so
// that a caller waiting until then is never early; "" for the zero time.
func FormatRetryAt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	return t.UTC().Format(time.RFC3339)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("could not write JSON: %w", err)
	}
	return nil
}
