package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
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
	// CAPEM is a PEM bundle trusted in addition, given as bytes (the Vault
	// engine keeps a profile's CA in its storage, not in a file).
	CAPEM []byte
	// InsecureSkipVerify turns TLS verification off; only when a profile
	// says so explicitly, and it logs a warning.
	InsecureSkipVerify bool
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives the insecure warning; nil discards it.
	Logger hclog.Logger
	// ResponseHeaderTimeout bounds the wait for response headers once a
	// request is sent (NewTransport); 0 means none.
	ResponseHeaderTimeout time.Duration
	// MaxIdleConnsPerHost keeps this many idle connections to upstream
	// (NewTransport); 0 means net/http's default.
	MaxIdleConnsPerHost int
}

// NewHTTPClient returns the client providers talk to upstream with: TLS
// verified against the system roots plus CAFile, a per-request timeout,
// and redirects never followed — a token endpoint that redirects would
// otherwise carry a password or refresh id to wherever it points. The
// 3xx response itself comes back (StatusKind classifies it).
func NewHTTPClient(o HTTPOptions) (*http.Client, error) {
	rt, err := NewTransport(o)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Transport: rt,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// NewTransport returns the transport of NewHTTPClient: TLS verified
// against the system roots plus CAFile, failures before sending marked
// ErrNotSent, an untrusted certificate explained by the ca_file. A
// RoundTripper follows no redirect. o.Timeout does not apply (it bounds
// whole requests, which the auth proxy streams); ResponseHeaderTimeout
// and MaxIdleConnsPerHost do.
func NewTransport(o HTTPOptions) (http.RoundTripper, error) {
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
	if len(o.CAPEM) > 0 && !roots.AppendCertsFromPEM(o.CAPEM) {
		return nil, fmt.Errorf("the CA PEM holds no PEM certificate (%w)", ErrBadConfig)
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
	tr.ResponseHeaderTimeout = o.ResponseHeaderTimeout
	if o.MaxIdleConnsPerHost > 0 {
		tr.MaxIdleConnsPerHost = o.MaxIdleConnsPerHost
	}
	var rt http.RoundTripper = tr
	if o.CAFile != "" {
		rt = caFileTransport{base: tr, file: o.CAFile}
	}
	return sendTracer{base: rt}, nil
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

// caFileTransport remembers which ca_file was configured, so that an
// untrusted certificate can be explained as "ca_file F does not hold the
// CA" rather than "set ca_file".
type caFileTransport struct {
	base *http.Transport
	file string
}

func (t caFileTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	var unknownCA x509.UnknownAuthorityError
	if err != nil && errors.As(err, &unknownCA) {
		err = &caFileError{file: t.file, err: err}
	}
	return resp, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (t caFileTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// caFileError is an untrusted certificate met while a ca_file was in use.
type caFileError struct {
	file string
	err  error
}

func (e *caFileError) Error() string { return e.err.Error() }
func (e *caFileError) Unwrap() error { return e.err }

// TransportError turns a request that got no response into an *Error:
// timeouts, resets, refused connections, EOF and temporary DNS failures
// are ErrUnavailable; an unknown host, a certificate the client does not
// trust (or that does not match the host) and TLS spoken to a plain-HTTP
// port are ErrBadConfig, with a hint. The URL is dropped from the message.
func TransportError(op, method, path string, err error) *Error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	c := classifyTransport(inner)
	return &Error{Op: op, Method: method, Path: path, Message: c.hint, Kind: c.kind, Err: inner, quiet: c.quiet}
}

// transportClass is what classifyTransport decided: the kind, a hint for
// the user, and whether the hint says all the Go error would.
type transportClass struct {
	kind  error
	hint  string
	quiet bool
}

func classifyTransport(err error) transportClass {
	var (
		unknownCA x509.UnknownAuthorityError
		caFile    *caFileError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
		dns       *net.DNSError
	)
	switch {
	case errors.As(err, &caFile):
		return transportClass{ErrBadConfig, "certificate signed by an unknown authority: ca_file " + caFile.file +
			" does not contain the CA that signed the server's certificate", true}
	case errors.As(err, &unknownCA):
		return transportClass{ErrBadConfig, "certificate signed by an unknown authority: " +
			"set ca_file to the CA bundle that signed the server's certificate", true}
	case errors.As(err, &hostname):
		return transportClass{ErrBadConfig, "the server certificate does not match the host in url", false}
	case errors.As(err, &invalid):
		return transportClass{ErrBadConfig, "the server certificate is invalid (expired or not for server use)", false}
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http replaces the RecordHeaderError by an unexported
		// errors.New when the answer looks like HTTP; its text is the
		// only handle.
		return transportClass{ErrBadConfig, "the server does not speak TLS: check the url scheme and port", true}
	case errors.As(err, &dns) && dns.IsNotFound:
		// NXDOMAIN: a mistyped or unknown name, not a passing fault.
		return transportClass{ErrBadConfig, "host " + dns.Name + " not found: check url", true}
	case errors.As(err, &dns):
		return transportClass{ErrUnavailable, "DNS lookup failed", false}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return transportClass{ErrUnavailable, "timed out", false}
	case errors.Is(err, syscall.ECONNREFUSED):
		return transportClass{ErrUnavailable, "connection refused", false}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return transportClass{ErrUnavailable, "connection reset", false}
	}
	return transportClass{ErrUnavailable, "", false}
}

// plainToTLS is the start of the text Go's HTTP server answers (with 400)
// to a plain-HTTP request on a TLS port.
const plainToTLS = "Client sent an HTTP request to an HTTPS server"

// PlainHTTPToTLS reports whether an answer's body is Go's (or a similar
// server's) refusal of a plain-HTTP request on a TLS port: the profile's
// url says http:// where it should say https://.
func PlainHTTPToTLS(body []byte) bool {
	return bytes.Contains(body, []byte(plainToTLS)) ||
		bytes.Contains(body, []byte("The plain HTTP request was sent to HTTPS port")) // nginx
}

// HTTPSHint is the message for an answer PlainHTTPToTLS recognised; base
// is the configured URL (scheme://host[:port][/prefix]).
func HTTPSHint(base string) string {
	if rest, ok := strings.CutPrefix(base, "http://"); ok {
		return "the server at " + base + " speaks HTTPS: set url to https://" + rest
	}
	return "the server at " + base + " expects HTTPS: check the url scheme and port"
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
// secret, in each form a server echoing its request could send it back in
// (see Echoes), is replaced by [REDACTED]; control characters become
// spaces, and the result is truncated to MaxMessage bytes on a rune
// boundary. Secrets of any length are scrubbed: a short password mangles
// the message, which is better than leaking it. Callers that sent a
// credential should rather withhold a message that Echoes it.
func CleanMessage(msg string, secrets ...secret.Secret) string {
	if forms := echoForms(secrets); len(forms) > 0 {
		pairs := make([]string, 0, 2*len(forms))
		for _, f := range forms {
			pairs = append(pairs, f, "[REDACTED]")
		}
		// One pass, longest form first: a form is never matched inside
		// an earlier replacement.
		msg = strings.NewReplacer(pairs...).Replace(msg)
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

// Echoes reports whether msg carries any of the secrets in any form a
// server echoing its request could use: raw, JSON-, XML-, URL query- or
// path-escaped, or base64 (standard or URL alphabet, padded or not).
// Pass the exact header values and bodies that were sent as secrets too
// (a Basic credential is base64 of "user:password", which no form of the
// password alone matches).
func Echoes(msg string, secrets ...secret.Secret) bool {
	for _, f := range echoForms(secrets) {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}

// echoForms lists every non-empty form of the secrets, longest first,
// without duplicates.
func echoForms(secrets []secret.Secret) []string {
	seen := map[string]bool{}
	var forms []string
	for _, s := range secrets {
		v := s.Reveal()
		if v == "" {
			continue
		}
		for _, f := range encodings(v) {
			if f != "" && !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return forms
}

// encodings are the forms of v a server may echo.
func encodings(v string) []string {
	b := []byte(v)
	return []string{
		v,
		jsonEscape(v, true), jsonEscape(v, false),
		html.EscapeString(v),
		url.QueryEscape(v), url.PathEscape(v),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	}
}

// jsonEscape is v as inside a JSON string, with or without the HTML
// escapes (\u003c …) encoding/json adds by default.
func jsonEscape(v string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if enc.Encode(v) != nil {
		return ""
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(out, `"`), `"`)
}

// minEcho is the shortest part of a secret EchoesPart looks for.
const minEcho = 4

// EchoesPart reports whether msg carries any part of at least four
// characters of one of the secrets, ignoring case (a server quoting a
// prefix of the password, or an upper-cased copy), or a whole secret in
// any form Echoes knows. A login failure whose message does is withheld:
// redacting parts would leave the rest of the secret readable.
func EchoesPart(msg string, secrets ...secret.Secret) bool {
	if Echoes(msg, secrets...) {
		return true
	}
	low := strings.ToLower(msg)
	for _, s := range secrets {
		r := []rune(strings.ToLower(s.Reveal()))
		for i := 0; i+minEcho <= len(r); i++ {
			if strings.Contains(low, string(r[i:i+minEcho])) {
				return true
			}
		}
	}
	return false
}

// MaxToken bounds the length of a token PlausibleToken accepts.
const MaxToken = 64 << 10

// PlausibleToken accepts RFC 6750 b64token characters only — what JWTs,
// opaque tokens and uuids are made of — and at most MaxToken bytes, so an
// HTML page or an error text never passes for a token, and a token from a
// hostile server cannot carry CR, LF or spaces into an HTTP header or a
// header line printed for curl.
func PlausibleToken(v string) bool {
	if v == "" || len(v) > MaxToken {
		return false
	}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-._~+/=", r):
		default:
			return false
		}
	}
	return true
}
