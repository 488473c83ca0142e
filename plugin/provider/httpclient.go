package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// DefaultTimeout bounds one upstream request when HTTPOptions.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// MaxMessage is how much of an upstream error message an *Error keeps.
const MaxMessage = 200

// HTTPOptions configure NewHTTPClient from a profile.
type HTTPOptions struct {
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string
	// InsecureSkipVerify turns TLS verification off; only when a profile
	// says so explicitly, and it logs a warning.
	InsecureSkipVerify bool
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives the insecure warning; nil discards it.
	Logger hclog.Logger
}

// NewHTTPClient returns the client providers talk to upstream with: TLS
// verified against the system roots plus CAFile, a per-request timeout,
// and redirects never followed — a token endpoint that redirects would
// otherwise carry a password or refresh id to wherever it points. The
// 3xx response itself comes back (StatusKind classifies it).
func NewHTTPClient(o HTTPOptions) (*http.Client, error) {
	logger := o.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("could not read ca_file: %w (%w)", err, ErrBadConfig)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate (%w)", o.CAFile, ErrBadConfig)
		}
	}
	if o.InsecureSkipVerify {
		logger.Warn("TLS certificate verification is disabled (insecure_skip_verify: true): credentials and tokens can be intercepted; use ca_file instead")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            roots,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // explicit, warned opt-in
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// StatusKind classifies an HTTP status every provider treats alike:
// 5xx and 429 → ErrUnavailable, 403 → ErrForbidden, 3xx → ErrBadConfig
// (redirects are never followed). It returns nil for the statuses whose
// meaning depends on the operation (400, 401, 404, …) and for 2xx.
func StatusKind(status int) error {
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return ErrUnavailable
	case status == http.StatusForbidden:
		return ErrForbidden
	case status >= 300 && status < 400:
		return ErrBadConfig
	}
	return nil
}

// TransportError turns a request that got no response into an *Error:
// timeouts, resets, refused connections, EOF and DNS failures are
// ErrUnavailable; a certificate the client does not trust (or that does
// not match the host) and TLS spoken to a plain-HTTP port are
// ErrBadConfig, with a hint. The URL is dropped from the message.
func TransportError(op, method, path string, err error) *Error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	kind, hint := classifyTransport(inner)
	return &Error{Op: op, Method: method, Path: path, Message: hint, Kind: kind, Err: inner}
}

func classifyTransport(err error) (kind error, hint string) {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownCA):
		return ErrBadConfig, "the server certificate is not signed by a trusted CA: set ca_file to the CA bundle that signed it"
	case errors.As(err, &hostname):
		return ErrBadConfig, "the server certificate does not match the host in url"
	case errors.As(err, &invalid):
		return ErrBadConfig, "the server certificate is invalid (expired or not for server use)"
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http replaces the RecordHeaderError by an unexported
		// errors.New when the answer looks like HTTP; its text is the
		// only handle.
		return ErrBadConfig, "the server does not speak TLS: check the url scheme and port"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return ErrUnavailable, "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrUnavailable, "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrUnavailable, "connection reset"
	}
	return ErrUnavailable, ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ReadBody reads at most limit bytes of a response body and drains a
// little of the rest so the connection can be reused.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit))
	_, _ = io.CopyN(io.Discard, r, 4096)
	return b, err
}

// CleanMessage prepares an upstream message for an *Error: every given
// secret value is replaced by [REDACTED] (a server may echo what it was
// sent), control characters become spaces, and the result is truncated
// to MaxMessage bytes on a rune boundary.
func CleanMessage(msg string, secrets ...secret.Secret) string {
	for _, s := range secrets {
		if v := s.Reveal(); len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "[REDACTED]")
		}
	}
	msg = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(msg))
	if len(msg) <= MaxMessage {
		return msg
	}
	cut := MaxMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
