package provider

import (
	"net/http"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// MaxBody bounds how much of a session API answer is read: session
// answers are small and an error body is only ever summarised.
const MaxBody = 1 << 20

// Response is one upstream answer, read whole (up to Send's limit).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Send sends req with c and reads at most limit bytes of the answer. Only
// a failure to get an answer is an error here, classified by
// TransportError; callers decide what each status means.
func Send(c *http.Client, req *http.Request, op string, limit int64) (*Response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, TransportError(op, req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := ReadBody(resp.Body, limit)
	if err != nil {
		return nil, TransportError(op, req.Method, req.URL.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// SendLogged is Send with MaxBody, logging each answer's operation,
// method, path and status at debug as "<product> call" (never a header
// or a body, which may carry credentials).
func SendLogged(c *http.Client, log hclog.Logger, product string, req *http.Request, op string) (*Response, error) {
	r, err := Send(c, req, op, MaxBody)
	if err == nil {
		log.Debug(product+" call", "op", op, "method", req.Method, "path", req.URL.Path, "status", r.Status)
	}
	return r, err
}

// FailureKind is the default classification of a failed session API
// answer: StatusKind's, else 401 a rejected credential (or session), and
// anything else a protocol error.
func FailureKind(status int) error {
	if k := StatusKind(status); k != nil {
		return k
	}
	if status == http.StatusUnauthorized {
		return ErrCredentialsRejected
	}
	return ErrProtocol
}

// LoggedOut reports whether status answers a logout as done: the session
// ended (200, 204), or the server no longer knows it (401, 404), so it
// is already gone.
func LoggedOut(status int) bool {
	switch status {
	case http.StatusOK, http.StatusNoContent, http.StatusUnauthorized, http.StatusNotFound:
		return true
	}
	return false
}

// SentCredentials are the credential headers req carried, as secrets an
// answer must not echo: the exact Authorization value ("Basic <base64>",
// "Bearer <token>") and its credential part, and the value of each of
// the named session headers.
func SentCredentials(req *http.Request, headers ...string) []secret.Secret {
	var out []secret.Secret
	if v := req.Header.Get(HeaderAuthorization); v != "" {
		out = append(out, secret.New(v))
		if _, cred, ok := strings.Cut(v, " "); ok {
			out = append(out, secret.New(cred))
		}
	}
	for _, h := range headers {
		if v := req.Header.Get(h); v != "" {
			out = append(out, secret.New(v))
		}
	}
	return out
}

// Withheld replaces an upstream message that quoted what was sent.
const Withheld = "the server's message was withheld: it quoted the credential that was sent"

// WithholdEchoes keeps an upstream error code and message only where they
// carry none of secrets in any encoding Echoes knows: a code that does is
// dropped, a message replaced by Withheld — whole, never redacted, so an
// echo in an encoding not foreseen cannot survive in the remains. For a
// login, part is the credential that was sent: any piece of it of four
// characters or more, in any case, withholds too (EchoesPart).
func WithholdEchoes(code, msg string, part, secrets []secret.Secret) (string, string) {
	echoes := func(s string) bool { return Echoes(s, secrets...) || EchoesPart(s, part...) }
	if echoes(code) {
		code = ""
	}
	if echoes(msg) {
		msg = Withheld
	}
	return code, msg
}
