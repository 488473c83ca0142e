package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// ExecHandler answers the exec protocol for the agent's exec socket
// (paths.Agent.Exec, agent.Options.Exec): one TokenRequest or
// InvalidateRequest document in, the bytes `tokenkeeper get --format
// json` (or `invalidate`) prints for it out — a Token document with the
// profile's url and caFile (Document), an Error document (ExecError), or
// nothing (an empty line) for a successful invalidate.
type ExecHandler struct {
	// Client answers the calls: the agent's own keeper in process
	// (NewClient(plugin.InProcess(k, nil), nil)), so that an exec answer
	// goes through every conversion and error status a gRPC caller's does.
	Client *Client
	// Endpoint is the url and CA file of a configured profile for the
	// Token document ("" each when unknown).
	Endpoint func(profile string) (url, caFile string)

	mu   sync.Mutex           // guards docs, last and parses
	docs map[string]cachedDoc // by profile: the last Token document answered
	// last is the last TokenRequest line parsed, and its parse: the
	// calls of a pipeline repeat one request, byte for byte.
	last   cachedRequest
	parses int // TokenRequest lines parsed, for tests
}

// cachedRequest is a request line and its parse.
type cachedRequest struct {
	line []byte
	req  exec.TokenRequest
}

// cachedDoc is an encoded Token document and what it was made of: a
// steady caller gets the same token many times, and encoding it is most
// of an answer's work.
type cachedDoc struct {
	fingerprint string
	shorter     bool
	doc         []byte
}

// Answer answers one request line (without its newline); served reports
// that it handed out a token.
func (e *ExecHandler) Answer(ctx context.Context, line []byte) (doc []byte, served bool) {
	if req, ok := e.lastRequest(line); ok {
		return e.tokenFor(ctx, req)
	}
	var head struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(line, &head) // the strict parse below says what is wrong
	if head.Kind == exec.KindInvalidateRequest {
		return e.invalidate(ctx, line), false
	}
	// Anything else is answered as `tokenkeeper get` answers it on stdin.
	return e.token(ctx, line)
}

func (e *ExecHandler) token(ctx context.Context, line []byte) ([]byte, bool) {
	req, err := exec.ParseTokenRequest(bytes.NewReader(line))
	e.mu.Lock()
	e.parses++
	if err == nil {
		e.last = cachedRequest{line: bytes.Clone(line), req: req}
	}
	e.mu.Unlock()
	if err != nil {
		return failure(err), false
	}
	return e.tokenFor(ctx, req)
}

// lastRequest is the parse of line if it is the last TokenRequest line
// parsed: the same bytes parse the same.
func (e *ExecHandler) lastRequest(line []byte) (exec.TokenRequest, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.last.line == nil || !bytes.Equal(line, e.last.line) {
		return exec.TokenRequest{}, false
	}
	return e.last.req, true
}

// tokenFor answers the parsed TokenRequest req.
func (e *ExecHandler) tokenFor(ctx context.Context, req exec.TokenRequest) ([]byte, bool) {
	t, err := e.Client.Token(ctx, req.Profile, TokenOptions{
		MinValidity: time.Duration(req.MinValidity), ForceRefresh: req.ForceRefresh, AllowShorter: req.AllowShorter,
	})
	if err != nil {
		return failure(err), false
	}
	return e.document(t), true
}

// document is the encoded Token document of t, from the cache while t
// is the token it was made of.
func (e *ExecHandler) document(t *Token) []byte {
	e.mu.Lock()
	c, ok := e.docs[t.Profile]
	e.mu.Unlock()
	if ok && c.fingerprint == t.Fingerprint && c.shorter == t.ShorterThanRequested {
		return c.doc
	}
	var url, ca string
	if e.Endpoint != nil {
		url, ca = e.Endpoint(t.Profile)
	}
	var b bytes.Buffer
	if err := exec.WriteToken(&b, Document(t, url, ca), exec.FormatJSON); err != nil {
		return failure(err)
	}
	e.mu.Lock()
	if e.docs == nil {
		e.docs = map[string]cachedDoc{}
	}
	e.docs[t.Profile] = cachedDoc{fingerprint: t.Fingerprint, shorter: t.ShorterThanRequested, doc: b.Bytes()}
	e.mu.Unlock()
	return b.Bytes()
}

func (e *ExecHandler) invalidate(ctx context.Context, line []byte) []byte {
	req, err := exec.ParseInvalidateRequest(bytes.NewReader(line))
	if err == nil {
		err = e.Client.Invalidate(ctx, req.Profile, req.Fingerprint, req.Reason)
	}
	if err != nil {
		return failure(err)
	}
	return []byte("\n") // `tokenkeeper invalidate` prints nothing
}

// failure is the Error document of err, classified as the CLI does.
func failure(err error) []byte {
	e, ok := ExecError(err)
	if !ok && !errors.As(err, &e) { // a request the parser refused
		e = &exec.Error{Code: exec.CodeInternal, Message: err.Error(), Err: err}
	}
	return exec.MarshalError(e)
}
