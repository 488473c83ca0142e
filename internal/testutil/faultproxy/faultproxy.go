// Package faultproxy is a reverse proxy for tests that makes a login's
// outcome ambiguous the way real networks do: it forwards a request to
// the upstream — which sees it, and may count a failed login — and then
// drops the connection, answers 502 Bad Gateway, or answers only after
// the client has given up. It listens on 127.0.0.1:0 in plain HTTP and
// forwards to one upstream (the simulator, over TLS).
package faultproxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what the proxy does with a matching request once the upstream
// answered it.
type Mode int

const (
	// Pass returns the upstream's answer.
	Pass Mode = iota
	// Drop closes the connection without an answer (a reset after sending).
	Drop
	// BadGateway answers 502 instead of the upstream's answer.
	BadGateway
	// Stall holds the answer for Proxy.Stall (past the client's timeout),
	// then returns it.
	Stall
)

// Proxy forwards to Upstream; requests whose path has Prefix get Mode.
type Proxy struct {
	URL string // http://127.0.0.1:PORT

	srv      *httptest.Server
	upstream string
	client   *http.Client

	mu     sync.Mutex // guards prefix, mode, stall
	prefix string
	mode   Mode
	stall  time.Duration

	forwarded atomic.Int64 // matching requests the upstream answered
	done      chan struct{}
	closeOnce sync.Once
}

// New starts a proxy to upstream (scheme://host:port) using client (which
// trusts the upstream's certificate). Close stops it.
func New(upstream string, client *http.Client) *Proxy {
	p := &Proxy{upstream: strings.TrimRight(upstream, "/"), client: client, done: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p
}

// Set makes requests under prefix get mode from now on; stall is the hold
// of Stall.
func (p *Proxy) Set(prefix string, mode Mode, stall time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prefix, p.mode, p.stall = prefix, mode, stall
}

// Forwarded counts the matching requests the upstream answered.
func (p *Proxy) Forwarded() int64 { return p.forwarded.Load() }

// Close stops the proxy, ending stalled answers at once. Calling it again
// does nothing, so a test may both defer it and register it as cleanup.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		close(p.done)
		p.srv.CloseClientConnections()
		p.srv.Close()
	})
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	mode, stall := Pass, p.stall
	if p.prefix != "" && strings.HasPrefix(r.URL.Path, p.prefix) {
		mode = p.mode
	}
	p.mu.Unlock()
	status, header, body, err := p.forward(r)
	if err != nil {
		http.Error(w, "faultproxy: upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	if mode != Pass {
		p.forwarded.Add(1)
	}
	switch mode {
	case Drop:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, as a load balancer's would be
			}
			_ = conn.Close()
		}
		return
	case BadGateway:
		http.Error(w, "<html><body>502 Bad Gateway</body></html>", http.StatusBadGateway)
		return
	case Stall:
		select {
		case <-time.After(stall):
		case <-r.Context().Done():
			return
		case <-p.done:
			return
		}
	}
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// forward sends r to the upstream and reads the whole answer.
func (p *Proxy) forward(r *http.Request) (int, http.Header, []byte, error) {
	in, err := io.ReadAll(r.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(in))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out, err
}
