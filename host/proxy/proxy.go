// Package proxy is tokenkeeper's local auth proxy: an http.Handler that
// forwards every request to one profile's upstream with a valid token in
// the header the token service names, for tools that cannot refresh one
// (a curl loop, a PowerShell script, a vendor tool taking a base URL).
//
// It is a translation layer over host.Transport, which already holds the
// token rules every Go host follows: a token per request, only to the
// profile's origin, a 401 invalidating the token it was sent with (once per
// fingerprint, however many requests got it) and a replayable request
// retried once. The proxy adds what a network hop needs: the client's own
// credential headers are dropped, request bodies are made replayable up to
// a bound, redirects are passed back (never followed), a missing token
// becomes a 502/503 Error document instead of an unauthenticated request,
// and each request is logged on one line without headers or bodies.
package proxy

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// HealthPath answers 200 without touching upstream or the token service.
const HealthPath = "/_tokenkeeper/health"

// reservedPrefix is the proxy's own namespace: never forwarded.
const reservedPrefix = "/_tokenkeeper/"

// DefaultReplayLimit is how much of a request body is held for a retry
// after a 401 when Options.ReplayLimit is zero. API calls carry small
// JSON or XML bodies; an OVA upload streams and is not retried.
const DefaultReplayLimit = 256 << 10

// DefaultMinValidity is the validity asked for each request's token when
// Options.MinValidity is zero.
const DefaultMinValidity = 30 * time.Second

// credentialHeaders are dropped from every client request: the proxy
// authenticates, and a client's own (stale, or another account's)
// credential must never reach upstream beside or instead of the token.
var credentialHeaders = []string{
	"Authorization", "Proxy-Authorization", "X-Vcloud-Authorization",
	"X-Vmware-Vcloud-Access-Token", "X-Vmware-Vcloud-Token-Type", "Vmware-Api-Session-Id", "Cookie",
}

// Options configure New.
type Options struct {
	// Profile names the profile whose token is sent.
	Profile string
	// Upstream is the profile's URL, https://host[:port][/prefix]; a
	// request for /p goes to prefix/p.
	Upstream string
	// Tokens hands out tokens: a *host.Client, or an in-process keeper.
	Tokens host.TokenGetter
	// Transport reaches upstream with TLS verified by the profile's CA
	// (provider.NewTransport); it must follow no redirect, as no
	// http.RoundTripper does. Nil means http.DefaultTransport.
	Transport http.RoundTripper
	// MinValidity: each request is sent with a token valid at least this
	// long, so that it cannot expire before upstream has answered; the
	// caller sets it to the request timeout. Zero: DefaultMinValidity.
	MinValidity time.Duration
	// KeepAlive, when positive, is at least the idle timeout of the
	// profile's sessions (Cloud Director): while it serves, the proxy
	// keeps asking for a token valid this long, and the token service
	// keeps the session alive in between (see Serve).
	KeepAlive time.Duration
	// ReplayLimit bounds the request body held for a retry after a 401;
	// a longer body streams and is not retried. Zero: DefaultReplayLimit;
	// negative: never hold one.
	ReplayLimit int64
	// RequireHeader, if set, must come with RequireValue on every request
	// but the health check (Vault Agent's require_request_header): a
	// loopback port is open to every local user, the value is not.
	RequireHeader string
	RequireValue  secret.Secret
	// SessionPaths are path prefixes of upstream's own login, refresh and
	// logout (the provider's): a request to one with a method other than
	// GET or HEAD is answered 403 and never forwarded, since it would log
	// out (or replace) the session every user of the token service
	// shares, or send a tool's own password upstream.
	SessionPaths []string
	// Classify turns a token service or upstream failure into the Error
	// document answered; nil calls everything Unavailable.
	Classify func(error) *exec.Error
	// Logger gets one info line per request; nil discards.
	Logger hclog.Logger
}

// Proxy is the handler; it is safe for concurrent use.
type Proxy struct {
	o       Options
	target  *url.URL
	reverse *httputil.ReverseProxy
	logger  hclog.Logger
}

// New checks o and returns the proxy of one profile.
func New(o Options) (*Proxy, error) {
	target, err := url.Parse(o.Upstream)
	if err != nil || target.Host == "" || (target.Scheme != "https" && target.Scheme != "http") {
		return nil, fmt.Errorf("proxy: upstream %q is not an http(s) URL", o.Upstream)
	}
	if o.Tokens == nil || o.Profile == "" {
		return nil, errors.New("proxy: no token source or profile")
	}
	if o.RequireHeader != "" && o.RequireValue.IsZero() {
		return nil, fmt.Errorf("proxy: header %s is required but has no value", o.RequireHeader)
	}
	o.MinValidity = cmp.Or(o.MinValidity, DefaultMinValidity)
	o.ReplayLimit = cmp.Or(o.ReplayLimit, DefaultReplayLimit)
	if o.Classify == nil {
		o.Classify = unavailable
	}
	p := &Proxy{o: o, target: target, logger: o.Logger}
	if p.logger == nil {
		p.logger = hclog.NewNullLogger()
	}
	p.reverse = &httputil.ReverseProxy{
		Rewrite: p.rewrite,
		Transport: &host.Transport{
			Source: recorder{&heldTokens{src: o.Tokens}}, Profile: o.Profile, MinValidity: o.MinValidity,
			Origin: target.Scheme + "://" + target.Host, Base: o.Transport,
		},
		ModifyResponse: p.noRetryToken,
		ErrorHandler:   p.fail,
		ErrorLog:       hclogStd(p.logger),
	}
	return p, nil
}

// ServeHTTP answers the health check itself, refuses a request without
// the required header, and forwards every other request upstream.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &record{start: time.Now()}
	sw := &statusWriter{ResponseWriter: w}
	defer func() { p.log(r, sw, rec) }()
	r = r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
	switch {
	case r.URL.Path == HealthPath:
		writeJSON(sw, http.StatusOK, map[string]string{"status": "ok", "profile": p.o.Profile})
	case strings.HasPrefix(r.URL.Path, reservedPrefix):
		writeError(sw, http.StatusNotFound, &exec.Error{Code: exec.CodeNotFound,
			Message: "no such tokenkeeper proxy endpoint: " + r.URL.Path})
	case !p.allowed(r):
		writeError(sw, http.StatusPreconditionFailed, &exec.Error{Code: exec.CodePermissionDenied,
			Message: "this proxy requires the " + p.o.RequireHeader + " header with the value in its file"})
	case p.sessionCall(r):
		writeError(sw, http.StatusForbidden, &exec.Error{Code: exec.CodePermissionDenied,
			Message: fmt.Sprintf("%s %s is not forwarded: the session belongs to tokenkeeper (tokenkeeper logout --profile %s ends it)",
				r.Method, r.URL.Path, p.o.Profile)})
	default:
		p.reverse.ServeHTTP(sw, r)
	}
}

// sessionCall reports whether r would change upstream's session.
func (p *Proxy) sessionCall(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	for _, prefix := range p.o.SessionPaths {
		if strings.HasPrefix(r.URL.Path, prefix) {
			return true
		}
	}
	return false
}

// allowed checks the required header in constant time.
func (p *Proxy) allowed(r *http.Request) bool {
	if p.o.RequireHeader == "" {
		return true
	}
	got := r.Header.Get(p.o.RequireHeader)
	return subtle.ConstantTimeCompare([]byte(got), []byte(p.o.RequireValue.Reveal())) == 1
}

// rewrite aims the outgoing request at upstream, with none of the
// client's credentials and the body made replayable when it is small.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.target) // Host too: the upstream's own name, for TLS and virtual hosts
	for _, h := range credentialHeaders {
		pr.Out.Header.Del(h)
	}
	if p.o.RequireHeader != "" {
		pr.Out.Header.Del(p.o.RequireHeader)
	}
	holdBody(pr.Out, p.o.ReplayLimit)
}

// noRetryToken turns the 401 of a request whose retry got no token into
// that failure (502/503 and the cause), as if it had had none from the
// start: the client's own credentials were not the problem.
func (p *Proxy) noRetryToken(resp *http.Response) error {
	if resp.StatusCode != http.StatusUnauthorized {
		return nil
	}
	rec := recordOf(resp.Request.Context())
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.tokenErr != nil {
		return &tokenError{err: rec.tokenErr}
	}
	return nil
}

// fail answers a request that got no upstream response: no token (the
// token service's error, classified), or upstream unreachable. A client
// that went away gets nothing.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		w.WriteHeader(499) // logged only: nobody reads it
		return
	}
	var te *tokenError
	if errors.As(err, &te) {
		e := p.o.Classify(te.err)
		status := http.StatusBadGateway
		if e.Code == exec.CodeUnavailable {
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, e)
		return
	}
	e := p.o.Classify(&UpstreamError{Method: r.Method, Path: r.URL.Path, Err: err})
	writeError(w, http.StatusBadGateway, e)
}

// UpstreamError is a request the proxy sent that got no response.
type UpstreamError struct {
	Method, Path string
	Err          error
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("upstream did not answer %s %s: %v", e.Method, e.Path, e.Err)
}

// Unwrap returns the transport's error.
func (e *UpstreamError) Unwrap() error { return e.Err }

// unavailable is the Classify of last resort.
func unavailable(err error) *exec.Error {
	return &exec.Error{Code: exec.CodeUnavailable, Message: err.Error(), Err: err}
}
