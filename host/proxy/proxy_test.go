package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// canary is the secret part of every token the fake hands out: no log
// line may hold it, in any case or in part.
const canary = "CanaryTokenValue7f3a9c"

// fakeTokens hands out canary-N, moving to N+1 when the current token is
// invalidated by its fingerprint (the keeper's rule), like a keeper would.
type fakeTokens struct {
	mu          sync.Mutex // guards every field
	n           int
	header      string // header name; "" means Authorization
	err         error
	gets        int
	invalidated []string
	minValidity time.Duration
	asked       []time.Duration // every min validity asked, in order
	// errAfterInvalidate: once a token is invalidated, Token fails so.
	errAfterInvalidate error
}

func (f *fakeTokens) currentLocked() *host.Token {
	v := fmt.Sprintf("%s-%d", canary, f.n)
	name, value := f.header, "Bearer "+v
	if name == "" {
		name = "Authorization"
	} else {
		value = v
	}
	return &host.Token{Profile: "p", TokenType: "Bearer", HeaderName: name, Access: secret.New(v),
		HeaderValue: secret.New(value), Fingerprint: fmt.Sprintf("fp-%d", f.n), ExpiresAt: time.Now().Add(time.Hour)}
}

func (f *fakeTokens) Token(_ context.Context, _ string, o host.TokenOptions) (*host.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	f.minValidity = o.MinValidity
	f.asked = append(f.asked, o.MinValidity)
	if f.err != nil {
		return nil, f.err
	}
	return f.currentLocked(), nil
}

func (f *fakeTokens) Invalidate(_ context.Context, _, fp, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, fp)
	if f.errAfterInvalidate != nil {
		f.err = f.errAfterInvalidate
	}
	if fp == f.currentLocked().Fingerprint {
		f.n++
	}
	return nil
}

func (f *fakeTokens) counts() (gets int, invalidated []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets, append([]string(nil), f.invalidated...)
}

// seen is one request as upstream received it.
type seen struct {
	method, path string
	header       http.Header
	body         []byte
}

// upstream accepts only the token value in valid (any other gets 401) and
// records what it received.
type upstream struct {
	mu    sync.Mutex // guards every field
	valid string     // the accepted header value; "" accepts any
	name  string     // the header carrying it; "" means Authorization
	seen  []seen
	serve func(w http.ResponseWriter, r *http.Request) // after the check; nil answers 200 "ok"
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.seen = append(u.seen, seen{r.Method, r.URL.Path, r.Header.Clone(), b})
	valid, name, serve := u.valid, u.name, u.serve
	u.mu.Unlock()
	if name == "" {
		name = "Authorization"
	}
	if valid != "" && r.Header.Get(name) != valid {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"errorCode":"Unauthorized"}`)
		return
	}
	if serve != nil {
		serve(w, r)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.seen...)
}

// harness is a proxy in front of an upstream, with its log captured.
type harness struct {
	tokens *fakeTokens
	up     *upstream
	proxy  *httptest.Server
	log    *testutil.SyncBuffer
}

func newHarness(t *testing.T, tune func(*Options)) *harness {
	t.Helper()
	h := &harness{tokens: &fakeTokens{}, up: &upstream{}, log: &testutil.SyncBuffer{}}
	us := httptest.NewServer(h.up)
	t.Cleanup(us.Close)
	o := Options{Profile: "p", Upstream: us.URL + "/base", Tokens: h.tokens,
		Logger: hclog.New(&hclog.LoggerOptions{Output: h.log, Level: hclog.Trace, JSONFormat: true})}
	if tune != nil {
		tune(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.proxy = httptest.NewServer(p)
	t.Cleanup(h.proxy.Close)
	t.Cleanup(func() { checkLogClean(t, h.log.String()) })
	return h
}

// do sends one request through the proxy and returns status and body.
func (h *harness) do(t *testing.T, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.proxy.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// checkLogClean fails when the log holds the canary, whole, in part or
// in another case, or a client header value the tests send.
func checkLogClean(t *testing.T, log string) {
	t.Helper()
	low := strings.ToLower(log)
	for _, s := range []string{canary, canary[:10], canary[len(canary)-10:], clientSecret, clientSecret[:10]} {
		if strings.Contains(low, strings.ToLower(s)) {
			t.Errorf("the proxy log holds a secret (%d bytes of it):\n%s", len(s), log)
		}
	}
}

// clientSecret is a credential a client sends in its own headers.
const clientSecret = "ClientOwnSecret0b1e2d"

func TestProxySendsTheTokenAndNoClientCredential(t *testing.T) {
	h := newHarness(t, nil)
	resp, body := h.do(t, http.MethodGet, "/v1/domains?x=1", nil,
		"Authorization", "Bearer "+clientSecret, "X-Vcloud-Authorization", clientSecret,
		"Cookie", "vmware-api-session-id="+clientSecret, "X-Custom", "kept")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	got := h.up.requests()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests", len(got))
	}
	r := got[0]
	if r.path != "/base/v1/domains" {
		t.Errorf("upstream path %q, want the profile URL's prefix joined", r.path)
	}
	if a := r.header.Get("Authorization"); a != "Bearer "+canary+"-0" {
		t.Errorf("upstream Authorization is not the token's header (len %d)", len(a))
	}
	for name, vs := range r.header {
		for _, v := range vs {
			if strings.Contains(v, clientSecret) {
				t.Errorf("the client's credential reached upstream in %s", name)
			}
		}
	}
	if r.header.Get("X-Custom") != "kept" {
		t.Error("an ordinary client header was dropped")
	}
	if h.tokens.minValidity != DefaultMinValidity {
		t.Errorf("min validity asked %s, want %s", h.tokens.minValidity, DefaultMinValidity)
	}
	if log := h.log.String(); !strings.Contains(log, `"fingerprint":"fp-0"`) || !strings.Contains(log, `"path":"/v1/domains"`) ||
		!strings.Contains(log, `"status":200`) || strings.Contains(log, "x=1") || strings.Contains(log, "kept") {
		t.Errorf("the request line does not say method, path, status and fingerprint only:\n%s", log)
	}
}

func TestProxyLegacyVCloudHeader(t *testing.T) {
	h := newHarness(t, nil)
	h.tokens.header = "x-vcloud-authorization"
	h.up.name, h.up.valid = "x-vcloud-authorization", canary+"-0"
	resp, _ := h.do(t, http.MethodGet, "/api/org", nil, "Authorization", "Basic "+clientSecret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if a := h.up.requests()[0].header.Get("Authorization"); a != "" {
		t.Error("an Authorization header reached a legacy upstream")
	}
}

func TestProxyRetriesA401Once(t *testing.T) {
	h := newHarness(t, nil)
	h.up.valid = "Bearer " + canary + "-1" // the first token is already rejected
	resp, body := h.do(t, http.MethodPost, "/v1/domains", strings.NewReader(`{"name":"d"}`))
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("status %d body %q, want the retry's 200", resp.StatusCode, body)
	}
	got := h.up.requests()
	if len(got) != 2 || string(got[0].body) != `{"name":"d"}` || string(got[1].body) != `{"name":"d"}` {
		t.Fatalf("upstream got %d requests, want the body sent twice: %+v", len(got), got)
	}
	if _, inv := h.tokens.counts(); len(inv) != 1 || inv[0] != "fp-0" {
		t.Fatalf("invalidated %v, want fp-0 once", inv)
	}
	if !strings.Contains(h.log.String(), `"retried":true`) || !strings.Contains(h.log.String(), `"fingerprint":"fp-1"`) {
		t.Errorf("the log line does not name the retry:\n%s", h.log.String())
	}
}

func TestProxyLongBodyStreamsAndIsNotRetried(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ReplayLimit = 1024 })
	long := bytes.Repeat([]byte("x"), 4096)
	for i, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(long)
		if chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
		h.up.mu.Lock()
		h.up.valid = fmt.Sprintf("Bearer %s-%d", canary, i+1) // the current token is rejected
		h.up.mu.Unlock()
		before := len(h.up.requests())
		resp, _ := h.do(t, http.MethodPut, "/transfer/x", body)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("chunked %v: status %d, want the 401 passed back", chunked, resp.StatusCode)
		}
		got := h.up.requests()[before:]
		if len(got) != 1 || !bytes.Equal(got[0].body, long) {
			t.Fatalf("chunked %v: upstream got %d requests, want 1 with the whole body", chunked, len(got))
		}
	}
	if _, inv := h.tokens.counts(); len(inv) != 2 || inv[0] != "fp-0" || inv[1] != "fp-1" {
		t.Fatalf("invalidated %v: a 401 must invalidate even when the request is not retried", inv)
	}
}

func TestProxyConcurrent401sInvalidateOnce(t *testing.T) {
	const clients = 100
	h := newHarness(t, nil)
	var mu sync.Mutex
	first := 0
	all := make(chan struct{})
	// Every client's first attempt waits until all of them hold the old
	// token, then gets a 401: the invalidations race for real.
	h.up.serve = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+canary+"-0" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		mu.Lock()
		if first++; first == clients {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusUnauthorized)
	}
	var wg sync.WaitGroup
	statuses := make(chan int, clients)
	for range clients {
		wg.Go(func() {
			resp, _ := h.do(t, http.MethodGet, "/v1/domains", nil)
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("a client got %d, want every one retried to 200", s)
		}
	}
	if _, inv := h.tokens.counts(); len(inv) != 1 {
		t.Fatalf("%d clients on one rejected token made %d Invalidate calls, want 1", clients, len(inv))
	}
}

func TestProxyRedirectIsPassedBack(t *testing.T) {
	other := &upstream{}
	os := httptest.NewServer(other)
	defer os.Close()
	h := newHarness(t, nil)
	h.up.serve = func(w http.ResponseWriter, _ *http.Request) {
		http.Redirect(w, &http.Request{}, os.URL+"/steal", http.StatusFound)
	}
	resp, _ := h.do(t, http.MethodGet, "/v1/domains", nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != os.URL+"/steal" {
		t.Fatalf("status %d Location %q, want the 302 as upstream sent it", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := len(other.requests()); n != 0 {
		t.Fatalf("the server redirected to got %d requests", n)
	}
}

func TestProxy403PassesThrough(t *testing.T) {
	h := newHarness(t, nil)
	h.up.serve = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errorCode":"FORBIDDEN"}`)
	}
	resp, body := h.do(t, http.MethodPost, "/v1/domains", strings.NewReader("{}"))
	if resp.StatusCode != http.StatusForbidden || body != `{"errorCode":"FORBIDDEN"}` {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if _, inv := h.tokens.counts(); len(inv) != 0 {
		t.Fatalf("a 403 invalidated %v: it is a role problem, not a token problem", inv)
	}
}

func TestProxyNoTokenNoUpstreamRequest(t *testing.T) {
	for _, tt := range []struct {
		code   exec.Code
		status int
	}{
		{exec.CodeUnavailable, http.StatusServiceUnavailable},
		{exec.CodeUnauthenticated, http.StatusBadGateway},
		{exec.CodeFailedPrecondition, http.StatusBadGateway},
	} {
		t.Run(string(tt.code), func(t *testing.T) {
			h := newHarness(t, func(o *Options) {
				o.Classify = func(err error) *exec.Error { return &exec.Error{Code: tt.code, Message: "cause: " + err.Error()} }
			})
			h.tokens.err = errors.New("upstream login failed")
			resp, body := h.do(t, http.MethodGet, "/v1/domains", nil)
			var doc exec.ErrorDocument
			if err := json.Unmarshal([]byte(body), &doc); err != nil || resp.StatusCode != tt.status ||
				doc.Kind != exec.KindError || doc.Error.Code != tt.code || !strings.Contains(doc.Error.Message, "login failed") ||
				doc.Error.Retryable != tt.code.Retryable() {
				t.Fatalf("status %d body %s (%v)", resp.StatusCode, body, err)
			}
			if n := len(h.up.requests()); n != 0 {
				t.Fatalf("upstream got %d requests without a token", n)
			}
		})
	}
}

// TestProxyRetryWithoutToken: a 401 whose retry finds no token answers
// the token service's failure, not the 401: the client's credentials
// were never the problem.
func TestProxyRetryWithoutToken(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Classify = func(err error) *exec.Error { return &exec.Error{Code: exec.CodeUnavailable, Message: err.Error()} }
	})
	h.up.valid = "Bearer " + canary + "-1"
	h.tokens.errAfterInvalidate = errors.New("refresh failed: upstream 503")
	resp, body := h.do(t, http.MethodGet, "/v1/domains", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "refresh failed") ||
		resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d body %s, want 503 naming the refresh failure", resp.StatusCode, body)
	}
	if n := len(h.up.requests()); n != 1 {
		t.Fatalf("upstream got %d requests, want only the first", n)
	}
}

func TestProxyHealthTouchesNothing(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.RequireHeader, o.RequireValue = "X-Tk-Proxy", secret.New("v") })
	resp, body := h.do(t, http.MethodGet, HealthPath, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if gets, _ := h.tokens.counts(); gets != 0 || len(h.up.requests()) != 0 {
		t.Fatalf("health asked for %d tokens and sent %d requests upstream", gets, len(h.up.requests()))
	}
	if resp, _ := h.do(t, http.MethodGet, "/_tokenkeeper/other", nil, "X-Tk-Proxy", "v"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown proxy endpoint answered %d, want 404", resp.StatusCode)
	}
	if len(h.up.requests()) != 0 {
		t.Fatal("the proxy's namespace was forwarded")
	}
}

func TestProxyRequireHeader(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.RequireHeader, o.RequireValue = "X-Tk-Proxy", secret.New(clientSecret) })
	for _, v := range []string{"", "wrong", clientSecret[:5]} {
		if resp, _ := h.do(t, http.MethodGet, "/v1/domains", nil, "X-Tk-Proxy", v); resp.StatusCode != http.StatusPreconditionFailed {
			t.Fatalf("value %q: status %d, want 412", v, resp.StatusCode)
		}
	}
	if n := len(h.up.requests()); n != 0 {
		t.Fatalf("refused requests reached upstream: %d", n)
	}
	if resp, _ := h.do(t, http.MethodGet, "/v1/domains", nil, "X-Tk-Proxy", clientSecret); resp.StatusCode != http.StatusOK {
		t.Fatalf("with the header: status %d", resp.StatusCode)
	}
	if got := h.up.requests(); len(got) != 1 || got[0].header.Get("X-Tk-Proxy") != "" {
		t.Fatal("the shared secret was forwarded upstream")
	}
}

// TestProxySessionCallsRefused: a tool's own login or logout through the
// proxy would end the session every user of the token service shares (or
// send the tool's password upstream): refused, never forwarded; reading
// the session is forwarded.
func TestProxySessionCallsRefused(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.SessionPaths = []string{"/cloudapi/1.0.0/sessions", "/api/session"} })
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodDelete, "/cloudapi/1.0.0/sessions/current", http.StatusForbidden},
		{http.MethodPost, "/cloudapi/1.0.0/sessions", http.StatusForbidden},
		{http.MethodPost, "/api/sessions", http.StatusForbidden},
		{http.MethodDelete, "/api/session", http.StatusForbidden},
		{http.MethodGet, "/cloudapi/1.0.0/sessions/current", http.StatusOK},
		{http.MethodPost, "/cloudapi/1.0.0/orgs", http.StatusOK},
	} {
		before := len(h.up.requests())
		resp, body := h.do(t, tt.method, tt.path, nil)
		forwarded := len(h.up.requests()) > before
		if resp.StatusCode != tt.status || forwarded != (tt.status == http.StatusOK) {
			t.Errorf("%s %s: %d (forwarded %v) %s", tt.method, tt.path, resp.StatusCode, forwarded, body)
		}
	}
}
