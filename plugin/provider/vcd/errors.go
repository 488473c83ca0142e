package vcd

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// do sends req and reads the answer (provider.SendLogged).
func (p *Provider) do(req *http.Request, op string) (*provider.Response, error) {
	return provider.SendLogged(p.client, p.log, "cloud director", req, op)
}

// statusKind is the default classification of an HTTP failure status:
// provider.FailureKind, but a 406 (an API version the server does not
// speak) is a configuration problem.
func statusKind(status int) error {
	if status == http.StatusNotAcceptable {
		return provider.ErrBadConfig
	}
	return provider.FailureKind(status)
}

// upstreamError turns a failed answer into *provider.Error with the
// Cloud Director error code and message decoded from the body (XML Error,
// CloudAPI JSON or OAuth JSON). A server may echo the request into its
// error, so a code or message that carries any of secrets, or the
// request's own credential headers, in any encoding (raw, escaped,
// base64) is dropped whole rather than redacted: an echo in an encoding
// not foreseen here must not survive in the remains of a redacted text.
// For a login (and a token exchange) secrets[0] is the password or token
// that was sent, and any part of it of four characters or more, in any
// case, withholds the text too.
func (p *Provider) upstreamError(op string, req *http.Request, r *provider.Response, kind error, secrets ...secret.Secret) *provider.Error {
	var part []secret.Secret
	if isLogin(op) {
		// A login's answer must not carry even part of the password or
		// token (a prefix, an upper-cased copy).
		part = secrets[:min(1, len(secrets))]
	}
	secrets = append(secrets, provider.SentCredentials(req, provider.HeaderVCloudAuth)...)
	code, msg := decodeError(r.Body)
	code, msg = provider.WithholdEchoes(code, msg, part, secrets)
	if r.Status == http.StatusNotAcceptable {
		msg = p.notAcceptableMessage(msg, secrets)
	}
	if r.Status == http.StatusBadRequest && code == "" && msg == "" && len(strings.TrimSpace(string(r.Body))) > 0 {
		// Not a Cloud Director error body: something else answers at url,
		// a configuration problem as in the SDDC Manager provider.
		msg, kind = p.notCloudDirector(), provider.ErrBadConfig
		if provider.PlainHTTPToTLS(r.Body) {
			msg = provider.HTTPSHint(p.base.String())
		}
	}
	return &provider.Error{Op: op, Method: req.Method, Path: req.URL.Path, Status: r.Status,
		Code: provider.CleanMessage(code), Message: provider.CleanMessage(msg), Kind: kind,
		RetryAfter: provider.RetryAfter(r.Status, r.Header, time.Now())}
}

// isLogin reports whether op sends the primary credential.
func isLogin(op string) bool { return op == "login" || op == "exchange token" }

// notCloudDirector says that another server answers at the configured url.
func (p *Provider) notCloudDirector() string {
	return "the server at " + p.base.String() + " did not answer like Cloud Director: check the url scheme and port"
}

// basicSecrets are the forms a Basic login sends the password in besides
// the header (which provider.SentCredentials adds): the password and the decoded
// "user@org:password" pair.
func (p *Provider) basicSecrets(pw secret.Secret) []secret.Secret {
	return []secret.Secret{pw, secret.New(p.principal() + ":" + pw.Reveal())}
}

// notAcceptableMessage explains a 406: the API version we sent is not one
// the server speaks; it lists the ones it does (unless the list, which
// comes from the server too, echoes a secret).
func (p *Provider) notAcceptableMessage(upstream string, secrets []secret.Secret) string {
	p.mu.Lock()
	vs := p.versionCache
	// The server may have been upgraded since discovery: ask again next
	// time instead of repeating a version it no longer speaks.
	p.versionCache = nil
	p.mu.Unlock()
	msg := "the server does not accept this API version"
	if list := versionList(vs); len(vs) > 0 && !provider.Echoes(list, secrets...) {
		msg += "; it supports " + list + " (set api_version to one of them)"
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
