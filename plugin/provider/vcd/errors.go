package vcd

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// maxBody bounds how much of a response is read; Cloud Director answers
// are small and an error body is only ever summarised.
const maxBody = 1 << 20

// maxMessage bounds the upstream message kept in an error.
const maxMessage = 200

// response is one upstream answer, fully read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the answer. Only a failure to get an answer is an
// error here; callers decide what each status means. secrets are values
// that must never appear in a returned error, even if the transport or
// the server echoes them.
func (p *Provider) do(req *http.Request, op string, secrets ...secret.Secret) (*response, error) {
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, &provider.Error{Op: op, Method: req.Method, Path: req.URL.Path,
			Err: redactedErr{msg: scrub(transportMessage(err), secrets)}, Kind: transportKind(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &provider.Error{Op: op, Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode,
			Err: redactedErr{msg: scrub(err.Error(), secrets)}, Kind: provider.ErrUnavailable}
	}
	p.log.Debug("cloud director call", "op", op, "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode)
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// redactedErr carries a transport error's text after secrets were removed.
type redactedErr struct{ msg string }

func (e redactedErr) Error() string { return e.msg }

// transportMessage drops the URL that *url.Error repeats: the path is
// already in provider.Error, and a query could carry anything.
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// transportKind classifies a failure to get any answer. A certificate the
// profile does not trust is a configuration problem, not an outage.
func transportKind(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return provider.ErrBadConfig
	}
	return provider.ErrUnavailable
}

// statusKind is the default classification of an HTTP failure status.
func statusKind(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return provider.ErrCredentialsRejected
	case status == http.StatusForbidden:
		return provider.ErrForbidden
	case status == http.StatusNotAcceptable:
		return provider.ErrBadConfig
	case status == http.StatusTooManyRequests || status >= 500:
		return provider.ErrUnavailable
	default:
		return provider.ErrProtocol
	}
}

// upstreamError turns a failed answer into *provider.Error with the
// Cloud Director error code and message decoded from the body (XML Error,
// CloudAPI JSON or OAuth JSON), scrubbed of secrets.
func (p *Provider) upstreamError(op string, req *http.Request, r *response, kind error, secrets ...secret.Secret) *provider.Error {
	code, msg := decodeError(r.body)
	if r.status == http.StatusNotAcceptable {
		msg = p.notAcceptableMessage(msg)
	}
	return &provider.Error{Op: op, Method: req.Method, Path: req.URL.Path, Status: r.status,
		Code: scrub(code, secrets), Message: truncate(scrub(msg, secrets)), Kind: kind}
}

// notAcceptableMessage explains a 406: the API version we sent is not one
// the server speaks; it lists the ones it does.
func (p *Provider) notAcceptableMessage(upstream string) string {
	p.mu.Lock()
	vs := p.versionCache
	p.mu.Unlock()
	msg := "the server does not accept this API version"
	if len(vs) > 0 {
		msg += "; it supports " + versionList(vs) + " (set api_version to one of them)"
	}
	if upstream != "" {
		msg += ": " + upstream
	}
	return msg
}

// vcloudError is the XML Error element (namespace v1.5, matched loosely).
type vcloudError struct {
	XMLName        xml.Name `xml:"Error"`
	MajorErrorCode string   `xml:"majorErrorCode,attr"`
	MinorErrorCode string   `xml:"minorErrorCode,attr"`
	Message        string   `xml:"message,attr"`
}

// jsonError covers the CloudAPI error and the OAuth error shapes.
type jsonError struct {
	MinorErrorCode   string `json:"minorErrorCode"`
	Message          string `json:"message"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// decodeError extracts (code, message) from an error body; an empty or
// unknown body yields empty strings. Stack traces are never kept.
func decodeError(body []byte) (code, msg string) {
	trimmed := strings.TrimSpace(string(body))
	switch {
	case strings.HasPrefix(trimmed, "<"):
		var e vcloudError
		if xml.Unmarshal(body, &e) == nil {
			return e.MinorErrorCode, e.Message
		}
	case strings.HasPrefix(trimmed, "{"):
		var e jsonError
		if json.Unmarshal(body, &e) == nil {
			if e.MinorErrorCode != "" || e.Message != "" {
				return e.MinorErrorCode, e.Message
			}
			return e.Error, e.ErrorDescription
		}
	}
	return "", ""
}

// scrub removes any secret value from s.
func scrub(s string, secrets []secret.Secret) string {
	for _, sec := range secrets {
		if v := sec.Reveal(); len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

func truncate(s string) string {
	if len(s) > maxMessage {
		return s[:maxMessage] + "…"
	}
	return s
}
