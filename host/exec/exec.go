// Package exec is the exec credential protocol of tokenkeeper: the JSON
// documents `tokenkeeper get` and `tokenkeeper invalidate` read on stdin and
// write on stdout, the output formats, and how an error becomes an exit
// code. It only translates; the lifecycle lives in the agent's keeper.
package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// MaxRequest bounds what a request on stdin may weigh; a request is a few
// hundred bytes, anything larger is a mistake (a file piped by accident).
const MaxRequest = 64 << 10

// Duration is a time.Duration written in JSON as a Go duration string
// ("10m", "90s").
type Duration time.Duration

// errDurationSyntax and errDurationNegative never quote the input: a
// request may hold anything a user pasted by mistake.
var (
	errDurationSyntax   = errors.New(`must be a duration string like "10m"`)
	errDurationNegative = errors.New("must not be negative")
)

// UnmarshalJSON accepts a duration string; negative values are refused.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errDurationSyntax
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errDurationSyntax
	}
	if v < 0 {
		return errDurationNegative
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
	AllowShorter bool     `json:"allowShorter,omitempty"`
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

// ParseTokenRequest reads exactly one TokenRequest from r. Unknown
// fields (also a known name in another case), a field given twice, a
// wrong apiVersion or kind, a missing profile and trailing data are
// errors of code InvalidArgument. No error quotes a value of the request.
func ParseTokenRequest(r io.Reader) (TokenRequest, error) {
	var req TokenRequest
	err := decodeRequest(r, KindTokenRequest, fields{
		"apiVersion": &req.APIVersion, "kind": &req.Kind, "profile": &req.Profile,
		"minValidity": &req.MinValidity, "forceRefresh": &req.ForceRefresh,
		"allowShorter": &req.AllowShorter,
	})
	if err != nil {
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
	err := decodeRequest(r, KindInvalidateRequest, fields{
		"apiVersion": &req.APIVersion, "kind": &req.Kind, "profile": &req.Profile,
		"fingerprint": &req.Fingerprint, "reason": &req.Reason,
	})
	if err != nil {
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

func checkHeader(apiVersion, kind, want string) error {
	if apiVersion != APIVersion {
		return invalid(fmt.Sprintf("%s: apiVersion must be %q", want, APIVersion))
	}
	if kind != want {
		return invalid(fmt.Sprintf("%s: kind must be %q", want, want))
	}
	return nil
}
