// Package provider holds what the upstream protocols (vcf, vcd) and the
// keeper share: the Grant a login or refresh produces, and the error
// classification the keeper's lifecycle rules decide on. It speaks no HTTP
// itself; each protocol lives in its own subpackage.
package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Resolver yields a secret's current value on demand, at each login;
// secret.Ref satisfies it.
type Resolver interface {
	Resolve(ctx context.Context) (secret.Secret, error)
}

// Header names a provider may ask hosts to send.
const (
	HeaderAuthorization = "Authorization"
	HeaderVCloudAuth    = "x-vcloud-authorization"
	HeaderVMwareSession = "vmware-api-session-id"
)

// Grant is what one successful login or refresh produced. Lifetimes are
// durations, not instants: the keeper anchors them to its own clock at the
// moment the response arrived, so a skewed server clock changes nothing.
type Grant struct {
	// Access is the access token (JWT or legacy session token).
	Access secret.Secret
	// TokenType is "Bearer" for JWTs, "vcloud" for legacy VCD tokens,
	// "session" for vCenter session ids.
	TokenType string
	// HeaderName is the HTTP header hosts send: HeaderAuthorization
	// (value "Bearer <token>"), or HeaderVCloudAuth or
	// HeaderVMwareSession (value "<token>").
	HeaderName string
	// AccessLifetime is how long Access lives from receipt (JWT exp−iat,
	// expires_in). Zero means unknown; the keeper then relies on
	// IdleTimeout or a conservative default.
	AccessLifetime time.Duration
	// IdleTimeout, when non-zero, ends the token after this long without
	// use (Cloud Director sessions); every hand-out extends it. It is
	// what the server reported or the profile set, never a guess.
	IdleTimeout time.Duration
	// IdleUnknown: the token ends after some time without use, but neither
	// the server nor the profile said how long (IdleTimeout is zero). The
	// keeper then assumes a conservative floor and probes the session
	// before handing it out after that much quiet.
	IdleUnknown bool
	// Refresh is the credential that can mint a new access token without
	// the password (VCF refresh-token id). Empty when the provider cannot
	// refresh; the keeper then logs in again.
	Refresh secret.Secret
	// RefreshLifetime is how long Refresh lives from its issue; zero means
	// it does not expire on its own.
	RefreshLifetime time.Duration
	// Principal is who the token speaks for, as the upstream names it
	// (VCF: the JWT's user claim; VCD: user@org of the session); empty
	// when the upstream did not say. Not a secret.
	Principal string
	// Roles are the token's roles as the upstream names them (VCF: the
	// role its scopes amount to, see vcf.RoleOf; VCD: the session's
	// roles); empty when unknown. The keeper checks them against the
	// profile's max_role.
	Roles []string
	// Scopes are the raw permissions of the token (VCF: the scope claim),
	// kept for display.
	Scopes []string
	// Meta is non-secret provider state needed later, e.g. for Revoke
	// (which logout endpoint, which API version). Never put secrets here.
	Meta map[string]string
}

// HeaderValue is the exact value of the header named by HeaderName.
func (g Grant) HeaderValue() secret.Secret {
	if g.HeaderName == HeaderVCloudAuth || g.HeaderName == HeaderVMwareSession {
		return g.Access
	}
	return secret.New(g.TokenType + " " + g.Access.Reveal())
}

// Classification sentinels. Providers wrap them (usually inside *Error) and
// the keeper, server and CLI compare with errors.Is.
var (
	// ErrCredentialsRejected: a login was refused (bad password, locked
	// account, bad API token). Never retried in a loop.
	ErrCredentialsRejected = errors.New("credentials rejected")
	// ErrRefreshRejected: the refresh credential is unknown, expired or
	// revoked; one full login is the remedy.
	ErrRefreshRejected = errors.New("refresh credential rejected")
	// ErrForbidden: authenticated, but the role is too weak.
	ErrForbidden = errors.New("permission denied")
	// ErrUnavailable: 5xx, 429, timeout, reset, DNS, TLS handshake to a
	// live server that failed transiently. Retryable with backoff.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrBadConfig: the profile cannot work as configured (no common API
	// version, TLS verification failure, malformed URL). Not retryable.
	ErrBadConfig = errors.New("bad configuration")
	// ErrProtocol: the upstream answered something this client cannot
	// understand. Not retryable.
	ErrProtocol = errors.New("unexpected upstream response")
)

// Error is an upstream failure: which operation, the HTTP status, the
// upstream's own error code, and a short message already free of secrets.
// Kind is one of the sentinels above; errors.Is(err, Kind) holds.
//
// Error() does not print Op: the caller that wraps the error already names
// what it was doing ("log in: …", "refresh access token: …"), so the text
// starts at the request, e.g. "POST /v1/tokens: HTTP 400 BAD_CREDENTIALS:
// Invalid credentials (credentials rejected)". Op stays available to code
// and logs.
type Error struct {
	Op      string // e.g. "login", "refresh access token", "revoke refresh token"
	Method  string // HTTP method
	Path    string // URL path, never the query
	Status  int    // HTTP status, 0 when no response arrived
	Code    string // errorCode (VCF) or minorErrorCode (VCD), when present
	Message string // upstream message, truncated, never a token or password
	Kind    error
	Err     error // the underlying transport error, if any
	// RetryAfter is the wait a 429 or 503 answer asked for (Retry-After).
	RetryAfter time.Duration

	// quiet: Message says all Err would (set by TransportError for the
	// failures it explains in full); Err is then not printed, only
	// unwrapped.
	quiet bool
}

func (e *Error) Error() string {
	var parts []string
	if e.Method != "" {
		parts = append(parts, e.Method+" "+e.Path)
	}
	if e.Status != 0 {
		st := fmt.Sprintf("HTTP %d", e.Status)
		if e.Code != "" {
			st += " " + e.Code
		}
		parts = append(parts, st)
	} else if e.Code != "" {
		parts = append(parts, e.Code)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	if e.Err != nil && !e.quiet {
		parts = append(parts, e.Err.Error())
	}
	if len(parts) == 0 && e.Op != "" {
		parts = append(parts, e.Op) // nothing else says what failed
	}
	msg := strings.Join(parts, ": ")
	switch {
	case e.Kind == nil:
		return msg
	case msg == "":
		return e.Kind.Error()
	}
	return msg + " (" + e.Kind.Error() + ")"
}

// Is makes errors.Is(err, ErrX) match the classification.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Unwrap exposes the underlying transport error.
func (e *Error) Unwrap() error { return e.Err }
