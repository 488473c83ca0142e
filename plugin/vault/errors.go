package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Error is a failed Vault operation. Its message names the operation,
// the path and the field, Vault's status and its own words (bounded),
// never a value or a token. Kind is provider.ErrBadConfig, ErrForbidden,
// ErrUnavailable or ErrProtocol; errors.Is(err, Kind) holds.
type Error struct {
	Op     string // "read", "log in", "revoke token", …
	Path   string // the logical path, without /v1/
	Field  string // the field of a {vault: …} reference, if any
	Status int    // HTTP status, 0 when no answer arrived
	Msg    string // what went wrong, secret-free
	Kind   error
	Err    error // the cause, if any (a *secret.Error for a reference)
}

// Error implements error: `vault read secret/data/x (field password):
// permission denied (HTTP 403)`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("vault " + e.Op)
	if e.Path != "" {
		b.WriteString(" " + e.Path)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %s)", e.Field)
	}
	b.WriteString(": " + e.Msg)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	// The cause is printed for a secret reference only: a transport
	// error's text repeats the URL and the hint said what matters.
	var se *secret.Error
	if errors.As(e.Err, &se) {
		b.WriteString(": " + se.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the kind.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

func badConfig(msg string) *Error {
	return &Error{Op: "configuration", Msg: msg, Kind: provider.ErrBadConfig}
}

// fail classifies err of op on path, adding the Vault it was sent to for
// the failures where that matters (cannot reach, not trusted).
func (c *Client) fail(op, path string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err // already ours (a login inside the operation failed)
	}
	e = classify(op, path, err)
	if e.Status == 0 {
		e.Msg = c.cfg.Address + ": " + e.Msg
	}
	return e
}

// maxVaultMessage bounds the text of Vault's own errors kept in a message.
const maxVaultMessage = 200

// classify turns an error of HashiCorp's client into an *Error: Vault's
// answers by status, anything else as a transport failure.
func classify(op, path string, err error) *Error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return &Error{Op: op, Path: path, Status: re.StatusCode, Msg: answerText(re), Kind: statusKind(re.StatusCode)}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Op: op, Path: path, Msg: "canceled", Kind: provider.ErrUnavailable, Err: context.Canceled}
	}
	te := provider.TransportError(op, "", path, err)
	msg := te.Message
	if msg == "" {
		msg = "could not reach Vault"
	}
	// TransportError's hints name a profile's settings; Vault's are these.
	msg = strings.NewReplacer("set ca_file to", "set vault.ca_cert (or VAULT_CACERT) to",
		"ca_file", "vault.ca_cert", "check url", "check vault.address", "host in url", "host in vault.address",
		"check the url scheme", "check the vault.address scheme").Replace(msg)
	return &Error{Op: op, Path: path, Msg: msg, Kind: te.Kind, Err: te.Err}
}

// statusKind maps Vault's HTTP statuses: 403 is permission denied, 404
// and other 4xx a path or request to fix, 429, 5xx (503: sealed or
// standby) unavailable.
func statusKind(status int) error {
	switch {
	case status == http.StatusForbidden:
		return provider.ErrForbidden
	case status == http.StatusTooManyRequests, status >= 500:
		return provider.ErrUnavailable
	}
	return provider.ErrBadConfig
}

// answerText is Vault's own words, parsed (never a raw body, which could
// be anything a proxy sends), bounded, or the status text.
func answerText(re *api.ResponseError) string {
	msg := http.StatusText(re.StatusCode)
	if !re.RawError && len(re.Errors) > 0 {
		msg = strings.Join(strings.Fields(strings.Join(re.Errors, "; ")), " ")
		// Vault lists its errors as "1 error occurred: * permission denied".
		if _, rest, ok := strings.Cut(msg, " occurred: "); ok && strings.Contains(msg[:len(msg)-len(rest)], "error") {
			msg = strings.ReplaceAll(strings.TrimPrefix(rest, "* "), " * ", "; ")
		}
	}
	if msg == "" {
		msg = "no message"
	}
	if len(msg) > maxVaultMessage {
		msg = msg[:maxVaultMessage] + "…"
	}
	return msg
}

// errSummary is a short secret-free text for a debug line.
func errSummary(err error) string {
	if err == nil {
		return ""
	}
	return classify("", "", err).Msg
}
