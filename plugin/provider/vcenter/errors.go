package vcenter

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// maxBody bounds how much of a response is read; session answers are
// small and an error body is only ever summarised.
const maxBody = 1 << 20

// response is one upstream answer, fully read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the answer. Only a failure to get an answer is an
// error here (provider.TransportError classifies it); callers decide what
// each status means.
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
	p.log.Debug("vcenter call", "op", op, "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode)
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// statusKind is the default classification of an HTTP failure status.
func statusKind(status int) error {
	if k := provider.StatusKind(status); k != nil {
		return k
	}
	if status == http.StatusUnauthorized {
		return provider.ErrCredentialsRejected
	}
	return provider.ErrProtocol
}

// withheld replaces an upstream message that quoted what was sent.
const withheld = "the server's message was withheld: it quoted the credential that was sent"

// upstreamError turns a failed answer into *provider.Error with the
// vSphere error type and message decoded from the body. A server may echo
// the request into its error, so a type or message that carries any of
// secrets, or the request's own credential headers, in any encoding is
// dropped whole rather than redacted. For a login secrets[0] is the
// password, and any part of it of four characters or more, in any case,
// withholds the text too.
func (p *Provider) upstreamError(op string, req *http.Request, r *response, kind error, secrets ...secret.Secret) *provider.Error {
	primary := secrets[:min(1, len(secrets))]
	secrets = append(secrets, sentCredentials(req)...)
	code, msg := decodeError(r.body)
	echoes := func(s string) bool { return provider.Echoes(s, secrets...) }
	if op == "login" {
		echoes = func(s string) bool { return provider.Echoes(s, secrets...) || provider.EchoesPart(s, primary...) }
	}
	if echoes(code) {
		code = ""
	}
	if echoes(msg) {
		msg = withheld
	}
	if r.status == http.StatusBadRequest && provider.PlainHTTPToTLS(r.body) {
		msg, kind = provider.HTTPSHint(p.baseString()), provider.ErrBadConfig
	}
	return &provider.Error{Op: op, Method: req.Method, Path: req.URL.Path, Status: r.status,
		Code: provider.CleanMessage(code), Message: provider.CleanMessage(msg), Kind: kind,
		RetryAfter: provider.RetryAfter(r.status, r.header, time.Now())}
}

// baseString is the configured URL for messages: scheme, host and path,
// never user info or a query.
func (p *Provider) baseString() string {
	return p.base.Scheme + "://" + p.base.Host + strings.TrimRight(p.base.EscapedPath(), "/")
}

// sentCredentials are the credential headers req carried: the exact
// "Basic <base64>" value, its credential part, and the session id.
func sentCredentials(req *http.Request) []secret.Secret {
	var out []secret.Secret
	if v := req.Header.Get(provider.HeaderAuthorization); v != "" {
		out = append(out, secret.New(v))
		if _, cred, ok := strings.Cut(v, " "); ok {
			out = append(out, secret.New(cred))
		}
	}
	if v := req.Header.Get(provider.HeaderVMwareSession); v != "" {
		out = append(out, secret.New(v))
	}
	return out
}

// apiError is the vSphere Automation error shape: at /api the body
// itself, at /rest wrapped as {"type": "com.vmware.vapi.std.errors.…",
// "value": {…}}.
type apiError struct {
	ErrorType string       `json:"error_type"`
	Messages  []apiMessage `json:"messages"`
	Type      string       `json:"type"`
	Value     *apiError    `json:"value"`
}

type apiMessage struct {
	ID             string `json:"id"`
	DefaultMessage string `json:"default_message"`
}

// decodeError extracts (code, message) from an error body: the error
// type (or, without one, the first message's id) and the first message's
// default text. An empty or unknown body yields empty strings.
func decodeError(body []byte) (code, msg string) {
	var e apiError
	if !strings.HasPrefix(strings.TrimSpace(string(body)), "{") || json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	code = e.ErrorType
	if e.Value != nil {
		if code == "" {
			code = e.Value.ErrorType
		}
		if len(e.Messages) == 0 {
			e.Messages = e.Value.Messages
		}
		if code == "" {
			code = strings.ToUpper(e.Type[strings.LastIndex(e.Type, ".")+1:])
		}
	}
	if len(e.Messages) > 0 {
		msg = e.Messages[0].DefaultMessage
		if code == "" {
			code = e.Messages[0].ID
		}
	}
	return code, msg
}
