// Package exec is the exec credential protocol of tokenkeeper: the JSON
// documents `tokenkeeper get` and `tokenkeeper invalidate` read on stdin and
// write on stdout, the output formats, and how an error becomes an exit
// code. It only translates; the lifecycle lives in the agent's keeper.
package exec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// APIVersion is the apiVersion of every document of this protocol.
const APIVersion = "tokenkeeper/v1"

// Document kinds.
const (
	KindTokenRequest      = "TokenRequest"
	KindInvalidateRequest = "InvalidateRequest"
	KindToken             = "Token"
	KindError             = "Error"
)

// maxRequest bounds what a request on stdin may weigh; a request is a few
// hundred bytes, anything larger is a mistake (a file piped by accident).
const maxRequest = 64 << 10

// Duration is a time.Duration written in JSON as a Go duration string
// ("10m", "90s").
type Duration time.Duration

// UnmarshalJSON accepts a duration string; negative values are refused.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a duration string such as \"10m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q", s)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// TokenRequest is what `tokenkeeper get` reads on stdin when --profile is
// absent.
type TokenRequest struct {
	APIVersion   string   `json:"apiVersion"`
	Kind         string   `json:"kind"`
	Profile      string   `json:"profile"`
	MinValidity  Duration `json:"minValidity,omitempty"`
	ForceRefresh bool     `json:"forceRefresh,omitempty"`
}

// InvalidateRequest is what `tokenkeeper invalidate` reads on stdin when
// --profile is absent.
type InvalidateRequest struct {
	APIVersion  string `json:"apiVersion"`
	Kind        string `json:"kind"`
	Profile     string `json:"profile"`
	Fingerprint string `json:"fingerprint"`
	Reason      string `json:"reason,omitempty"`
}

// ParseTokenRequest reads exactly one TokenRequest from r. Unknown fields,
// a wrong apiVersion or kind, a missing profile, and trailing data are
// errors of code InvalidArgument.
func ParseTokenRequest(r io.Reader) (TokenRequest, error) {
	var req TokenRequest
	if err := decodeOne(r, &req, KindTokenRequest); err != nil {
		return TokenRequest{}, err
	}
	if err := checkHeader(req.APIVersion, req.Kind, KindTokenRequest); err != nil {
		return TokenRequest{}, err
	}
	if req.Profile == "" {
		return TokenRequest{}, invalid("TokenRequest: profile is required")
	}
	return req, nil
}

// ParseInvalidateRequest reads exactly one InvalidateRequest from r, with
// the same strictness as ParseTokenRequest; profile and fingerprint are
// required.
func ParseInvalidateRequest(r io.Reader) (InvalidateRequest, error) {
	var req InvalidateRequest
	if err := decodeOne(r, &req, KindInvalidateRequest); err != nil {
		return InvalidateRequest{}, err
	}
	if err := checkHeader(req.APIVersion, req.Kind, KindInvalidateRequest); err != nil {
		return InvalidateRequest{}, err
	}
	if req.Profile == "" || req.Fingerprint == "" {
		return InvalidateRequest{}, invalid("InvalidateRequest: profile and fingerprint are required")
	}
	return req, nil
}

func decodeOne(r io.Reader, v any, kind string) error {
	data, err := io.ReadAll(io.LimitReader(r, maxRequest+1))
	if err != nil {
		return invalid(fmt.Sprintf("could not read %s from stdin: %v", kind, err))
	}
	if len(data) > maxRequest {
		return invalid(fmt.Sprintf("%s on stdin is larger than %d bytes", kind, maxRequest))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return invalid(fmt.Sprintf("no --profile given and no %s on stdin", kind))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid(fmt.Sprintf("malformed %s on stdin: %s", kind, jsonProblem(err)))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid(fmt.Sprintf("malformed %s on stdin: more than one JSON document", kind))
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input, which
// might hold something a user pasted by mistake.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be a %s", typ.Field, typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	msg := err.Error()
	// "json: unknown field \"x\"" and our Duration errors name only keys.
	return strings.TrimPrefix(msg, "json: ")
}

func checkHeader(apiVersion, kind, want string) error {
	if apiVersion != APIVersion {
		return invalid(fmt.Sprintf("%s: apiVersion must be %q, got %q", want, APIVersion, apiVersion))
	}
	if kind != want {
		return invalid(fmt.Sprintf("%s: kind must be %q, got %q", want, want, kind))
	}
	return nil
}
