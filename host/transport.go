package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TokenGetter is what Transport and TokenSource need from a Client.
type TokenGetter interface {
	Token(ctx context.Context, profile string, o TokenOptions) (*Token, error)
	Invalidate(ctx context.Context, profile, fingerprint, reason string) error
}

// Transport is an http.RoundTripper that authenticates requests with the
// token of one profile. Per request it asks the TokenService for a token
// (a cheap local call; the plugin caches and refreshes) and sends the
// header the service names. Every 401 invalidates the token it was sent
// with, whether or not the request can be retried, so later requests do
// not keep sending a rejected token until it expires; concurrent 401s for
// one token cause one Invalidate. A request whose body can be replayed is
// then retried once with the next token.
//
// The token goes only to one origin (scheme and host): Host, or else the
// origin of the first request. A request to any other origin — a redirect
// the http.Client follows, say — is forwarded without the token.
type Transport struct {
	// Source hands out tokens; usually a *Client.
	Source TokenGetter
	// Profile names the profile whose token is sent.
	Profile string
	// MinValidity asks for a token valid at least this long, so it
	// cannot expire in flight; zero means the plugin's default.
	MinValidity time.Duration
	// AllowShorter accepts, while upstream is unavailable, a cached
	// token valid for less than MinValidity (TokenOptions.AllowShorter)
	// rather than failing the request with ErrUnavailable.
	AllowShorter bool
	// Origin the token may go to, "https://host:port"; empty pins the
	// origin of the first request.
	Origin string
	// Base performs the requests; nil means http.DefaultTransport.
	Base http.RoundTripper

	mu     sync.Mutex    // guards pinned and inval
	pinned string        // the origin tokens go to, once known
	inval  *invalidation // the latest rejected token, once there is one
}

// invalidation is one Invalidate call for a rejected token, shared by the
// requests that got a 401 with it.
type invalidation struct {
	fingerprint string
	done        chan struct{}
	err         error // written before done is closed
}

// RoundTrip implements http.RoundTripper. It never modifies req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.allowed(req) {
		return t.base().RoundTrip(req)
	}
	tok, err := t.token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base().RoundTrip(authorized(req, req.Body, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if err := t.invalidate(req, tok); err != nil || !replayable(req) {
		return resp, nil
	}
	return t.retry(req, resp, tok)
}

// retry sends the request again, once, with the token that replaced the
// rejected one. When that fails — no new token, the same token again, a
// body that cannot be re-created — the caller gets the original 401
// response, untouched. A 401 to the retry invalidates that token too, for
// the requests after this one.
func (t *Transport) retry(req *http.Request, resp *http.Response, old *Token) (*http.Response, error) {
	tok, err := t.token(req.Context())
	if err != nil || tok.Fingerprint == old.Fingerprint {
		return resp, nil
	}
	var body io.ReadCloser
	if req.Body != nil && req.Body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	drain(resp)
	resp, err = t.base().RoundTrip(authorized(req, body, tok))
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		_ = t.invalidate(req, tok)
	}
	return resp, err
}

// invalidate reports tok as rejected, once per fingerprint: a request that
// gets a 401 with a token already being (or successfully) invalidated
// waits for that call instead of making another. A failed call is tried
// again by the next 401.
func (t *Transport) invalidate(req *http.Request, tok *Token) error {
	t.mu.Lock()
	inv := t.inval
	if inv == nil || inv.fingerprint != tok.Fingerprint || failed(inv) {
		inv = &invalidation{fingerprint: tok.Fingerprint, done: make(chan struct{})}
		t.inval = inv
		t.mu.Unlock()
		reason := fmt.Sprintf("401 from %s %s", req.Method, req.URL.Path)
		inv.err = t.Source.Invalidate(req.Context(), t.Profile, tok.Fingerprint, reason)
		close(inv.done)
		return inv.err
	}
	t.mu.Unlock()
	select {
	case <-inv.done:
		return inv.err
	case <-req.Context().Done():
		return req.Context().Err()
	}
}

// failed reports whether inv has finished with an error.
func failed(inv *invalidation) bool {
	select {
	case <-inv.done:
		return inv.err != nil
	default:
		return false
	}
}

func (t *Transport) token(ctx context.Context) (*Token, error) {
	tok, err := t.Source.Token(ctx, t.Profile, TokenOptions{MinValidity: t.MinValidity, AllowShorter: t.AllowShorter})
	if err != nil {
		return nil, err
	}
	if tok.HeaderName == "" {
		return nil, errors.New("get token: the token service named no header to send")
	}
	return tok, nil
}

// allowed reports whether req goes to the origin tokens may be sent to,
// pinning the first request's origin when none was configured.
func (t *Transport) allowed(req *http.Request) bool {
	origin := strings.ToLower(req.URL.Scheme + "://" + req.URL.Host)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pinned == "" {
		t.pinned = strings.ToLower(strings.TrimSuffix(t.Origin, "/"))
		if t.pinned == "" {
			t.pinned = origin
		}
	}
	return origin == t.pinned
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// authorized clones req with body and the token's header set; the caller's
// request is never modified (http.RoundTripper's contract).
func authorized(req *http.Request, body io.ReadCloser, tok *Token) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set(tok.HeaderName, tok.HeaderValue.Reveal())
	return r
}

// replayable: a request without a body, or one whose body can be re-created.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// drain reads a little of a discarded response so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	_ = resp.Body.Close()
}
