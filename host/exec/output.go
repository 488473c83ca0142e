package exec

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Output formats of `tokenkeeper get --format`.
const (
	FormatJSON   = "json"   // the Token document (default)
	FormatToken  = "token"  // the raw token and a newline
	FormatHeader = "header" // "Name: value" and a newline, for curl -H "$h"
	FormatEnv    = "env"    // shell export lines, as `tokenkeeper env`
)

// Formats lists the valid --format values.
var Formats = []string{FormatJSON, FormatToken, FormatHeader, FormatEnv}

// Environment variables set by `tokenkeeper exec` and printed by `env`.
const (
	EnvToken       = "TOKENKEEPER_TOKEN"
	EnvHeaderName  = "TOKENKEEPER_HEADER_NAME"
	EnvHeaderValue = "TOKENKEEPER_HEADER_VALUE"
	EnvExpiresAt   = "TOKENKEEPER_EXPIRES_AT"
)

// Header is the HTTP header a caller must send.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Token is the Token document: the one thing `tokenkeeper get` prints on
// success. It holds the raw token: build it only to write it to stdout.
type Token struct {
	APIVersion  string    `json:"apiVersion"`
	Kind        string    `json:"kind"`
	Profile     string    `json:"profile"`
	Provider    string    `json:"provider"`
	Token       string    `json:"token"`
	TokenType   string    `json:"tokenType"`
	Header      Header    `json:"header"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Fingerprint string    `json:"fingerprint"`
	// ShorterThanRequested is present (true) only when the token does not
	// stay valid for the minValidity asked: served under allowShorter
	// while upstream was unavailable.
	ShorterThanRequested bool `json:"shorterThanRequested,omitempty"`
	// URL is the profile's upstream, and CAFile the CA bundle the
	// profile verifies it with (an absolute path; absent when the system
	// roots are used), so that scripts and playbooks need not repeat
	// them. Both are optional: older helpers omit them.
	URL    string `json:"url,omitempty"`
	CAFile string `json:"caFile,omitempty"`
	// Principal is who the token speaks for and Role the role it
	// carries, as the upstream names them ("svc@vsphere.local",
	// "VIEWER"); absent when it did not say. Optional.
	Principal string `json:"principal,omitempty"`
	Role      string `json:"role,omitempty"`
}

// NewToken fills in apiVersion and kind and normalises the expiry to UTC
// seconds, as the contract shows it.
func NewToken(t Token) Token {
	t.APIVersion, t.Kind = APIVersion, KindToken
	t.ExpiresAt = t.ExpiresAt.UTC().Truncate(time.Second)
	return t
}

// ValidFormat reports whether f is one of Formats.
func ValidFormat(f string) bool {
	for _, v := range Formats {
		if v == f {
			return true
		}
	}
	return false
}

// WriteToken writes t to w in the given format.
func WriteToken(w io.Writer, t Token, format string) error {
	switch format {
	case FormatJSON, "":
		return writeJSON(w, NewToken(t))
	case FormatToken:
		_, err := fmt.Fprintln(w, t.Token)
		return err
	case FormatHeader:
		_, err := fmt.Fprintf(w, "%s: %s\n", t.Header.Name, t.Header.Value)
		return err
	case FormatEnv:
		var b strings.Builder
		for _, kv := range EnvVars(t) {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&b, "export %s=%s\n", k, ShellQuote(v))
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	return invalid(fmt.Sprintf("unknown format %q: use one of %s", format, strings.Join(Formats, ", ")))
}

// EnvVars returns the KEY=value pairs `tokenkeeper exec` adds to a
// command's environment.
func EnvVars(t Token) []string {
	return []string{
		EnvToken + "=" + t.Token,
		EnvHeaderName + "=" + t.Header.Name,
		EnvHeaderValue + "=" + t.Header.Value,
		EnvExpiresAt + "=" + t.ExpiresAt.UTC().Format(time.RFC3339),
	}
}

// ShellQuote quotes s for POSIX shells: single quotes, with each embedded
// single quote written as '\”.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WarnShorter writes the stderr line that says a token served under
// allowShorter expires before the min validity asked: with --format
// token or header stdout cannot say it. It writes nothing for a token
// that is not ShorterThanRequested.
func WarnShorter(w io.Writer, profile string, t Token, minValidity time.Duration) {
	if !t.ShorterThanRequested {
		return
	}
	fmt.Fprintf(w, "tokenkeeper: warning: profile %q: upstream unavailable; serving the cached token, which expires at %s, sooner than --min-validity %s asks\n",
		profile, t.ExpiresAt.UTC().Format(time.RFC3339), minValidity)
}

// OneLine folds a multi-line message (joined config errors) into the one
// stderr line the protocol promises.
func OneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
}

// Fail reports e the way get, invalidate, env and exec do and returns
// the exit code: the Error document on stdout when document is set (get
// and invalidate in format json), and one line on stderr.
func Fail(stdout, stderr io.Writer, e *Error, document bool) int {
	if document {
		_ = WriteError(stdout, e)
	}
	fmt.Fprintf(stderr, "tokenkeeper: %s\n", OneLine(strings.TrimRight(e.Message, "\n")))
	return e.Code.ExitCode()
}
