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

// maxBody bounds how much of a response is read; Cloud Director answers
// are small and an error body is only ever summarised.
const maxBody = 1 << 20

// response is one upstream answer, fully read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the answer. Only a failure to get an answer is an
// error here (classified by provider.TransportError: untrusted
// certificates are bad configuration, the rest is unavailability);
// callers decide what each status means.
func (p *Provider) do(req *http.Request, op string) (*response, error) {
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, provider.TransportError(op, req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := provider.ReadBody(resp.Body, maxBody)
	if err != nil {
		return nil, provider.TransportError(op, req.Method, req.URL.Path, err)
	}
	p.log.Debug("cloud director call", "op", op, "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode)
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// statusKind is the default classification of an HTTP failure status.
func statusKind(status int) error {
	if k := provider.StatusKind(status); k != nil {
		return k
	}
	switch status {
	case http.StatusUnauthorized:
		return provider.ErrCredentialsRejected
	case http.StatusNotAcceptable:
		return provider.ErrBadConfig
	}
	return provider.ErrProtocol
}

// withheld replaces an upstream message that quoted what was sent.
const withheld = "the server's message was withheld: it quoted the credential that was sent"

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
func (p *Provider) upstreamError(op string, req *http.Request, r *response, kind error, secrets ...secret.Secret) *provider.Error {
	primary := secrets[:min(1, len(secrets))]
	secrets = append(secrets, sentCredentials(req)...)
	code, msg := decodeError(r.body)
	echoes := func(s string) bool { return provider.Echoes(s, secrets...) }
	if isLogin(op) {
		// A login's answer must not carry even part of the password or
		// token (a prefix, an upper-cased copy): withhold on any echo of
		// four characters or more of it.
		echoes = func(s string) bool { return provider.Echoes(s, secrets...) || provider.EchoesPart(s, primary...) }
	}
	if echoes(code) {
		code = ""
	}
	if echoes(msg) {
		msg = withheld
	}
	if r.status == http.StatusNotAcceptable {
		msg = p.notAcceptableMessage(msg, secrets)
	}
	if r.status == http.StatusBadRequest && code == "" && msg == "" && len(strings.TrimSpace(string(r.body))) > 0 {
		// Not a Cloud Director error body: something else answers at url,
		// a configuration problem as in the SDDC Manager provider.
		msg, kind = p.notCloudDirector(), provider.ErrBadConfig
		if provider.PlainHTTPToTLS(r.body) {
			msg = provider.HTTPSHint(p.baseString())
		}
	}
	return &provider.Error{Op: op, Method: req.Method, Path: req.URL.Path, Status: r.status,
		Code: provider.CleanMessage(code), Message: provider.CleanMessage(msg), Kind: kind,
		RetryAfter: provider.RetryAfter(r.status, r.header, time.Now())}
}

// isLogin reports whether op sends the primary credential.
func isLogin(op string) bool { return op == "login" || op == "exchange token" }

// notCloudDirector says that another server answers at the configured url.
func (p *Provider) notCloudDirector() string {
	return "the server at " + p.baseString() + " did not answer like Cloud Director: check the url scheme and port"
}

// baseString is the configured URL for messages: scheme, host and path,
// never user info or a query.
func (p *Provider) baseString() string {
	return p.base.Scheme + "://" + p.base.Host + strings.TrimRight(p.base.EscapedPath(), "/")
}

// sentCredentials are the credential headers req carried: the exact
// "Basic <base64>" or "Bearer <token>" value, its credential part, and the
// legacy session token.
func sentCredentials(req *http.Request) []secret.Secret {
	var out []secret.Secret
	if v := req.Header.Get(provider.HeaderAuthorization); v != "" {
		out = append(out, secret.New(v))
		if _, cred, ok := strings.Cut(v, " "); ok {
			out = append(out, secret.New(cred))
		}
	}
	if v := req.Header.Get(provider.HeaderVCloudAuth); v != "" {
		out = append(out, secret.New(v))
	}
	return out
}

// basicSecrets are the forms a Basic login sends the password in besides
// the header (which sentCredentials adds): the password and the decoded
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
