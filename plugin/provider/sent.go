package provider

import (
	"errors"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"
)

// ErrNotSent marks a failed request that provably never reached the
// server: no connection was handed to it (DNS failure, connection
// refused, a TLS handshake that failed), or it failed before a request
// was built (an unreadable secret, a failed version discovery before the
// credential was sent). Only such a login may be retried freely; any other
// failed login may have been counted by the server as a failed attempt.
var ErrNotSent = errors.New("request not sent")

// NotSent marks err as a failure before the request reached the server.
func NotSent(err error) error {
	if err == nil || errors.Is(err, ErrNotSent) {
		return err
	}
	return &notSentError{err: err}
}

type notSentError struct{ err error }

func (e *notSentError) Error() string        { return e.err.Error() }
func (e *notSentError) Unwrap() error        { return e.err }
func (e *notSentError) Is(target error) bool { return target == ErrNotSent }

// sendTracer marks the transport errors of requests that were never
// written: net/http writes a request's headers (WroteHeaders) after it
// got a connection and before any byte of the body. Getting a connection
// is not sending: a reused keep-alive connection the server has already
// closed fails before the request is written, and must not cost a
// correct password a backoff step.
type sendTracer struct{ base http.RoundTripper }

func (t sendTracer) RoundTrip(r *http.Request) (*http.Response, error) {
	var sent atomic.Bool
	mark := func() { sent.Store(true) }
	trace := &httptrace.ClientTrace{
		WroteHeaders:         mark,
		WroteRequest:         func(httptrace.WroteRequestInfo) { mark() },
		GotFirstResponseByte: mark,
	}
	resp, err := t.base.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
	if err != nil && !sent.Load() {
		return resp, NotSent(err)
	}
	return resp, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (t sendTracer) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// MaxRetryAfter bounds a Retry-After a server may impose.
const MaxRetryAfter = 30 * time.Minute

// RetryAfter reads a Retry-After header (delay-seconds or an HTTP date)
// of a 429 or 503 answer; 0 when absent, unparseable or for another
// status. It is capped at MaxRetryAfter.
func RetryAfter(status int, h http.Header, now time.Time) time.Duration {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}
