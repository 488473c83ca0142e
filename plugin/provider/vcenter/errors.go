package vcenter

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// do sends req and reads the answer (provider.SendLogged).
func (p *Provider) do(req *http.Request, op string) (*provider.Response, error) {
	return provider.SendLogged(p.client, p.log, "vcenter", req, op)
}

// upstreamError turns a failed answer into *provider.Error with the
// vSphere error type and message decoded from the body, each dropped
// whole when it echoes any of secrets or the request's own credential
// headers (provider.WithholdEchoes). For a login secrets[0] is the
// password, and any part of it withholds the text too.
func (p *Provider) upstreamError(op string, req *http.Request, r *provider.Response, kind error, secrets ...secret.Secret) *provider.Error {
	var part []secret.Secret
	if op == "login" {
		part = secrets[:min(1, len(secrets))]
	}
	secrets = append(secrets, provider.SentCredentials(req, provider.HeaderVMwareSession)...)
	code, msg := decodeError(r.Body)
	code, msg = provider.WithholdEchoes(code, msg, part, secrets)
	if r.Status == http.StatusBadRequest && provider.PlainHTTPToTLS(r.Body) {
		msg, kind = provider.HTTPSHint(p.base.String()), provider.ErrBadConfig
	}
	return &provider.Error{Op: op, Method: req.Method, Path: req.URL.Path, Status: r.Status,
		Code: provider.CleanMessage(code), Message: provider.CleanMessage(msg), Kind: kind,
		RetryAfter: provider.RetryAfter(r.Status, r.Header, time.Now())}
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
