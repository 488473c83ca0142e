package provider

import (
	"errors"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
)

// deadConn stands in for net/http's transport handed a pooled connection that turns out to be
// closed before it writes the request: GotConn fires, WroteHeaders
// (optionally) fires, then the round trip fails.
type deadConn struct{ wrote bool }

func (d deadConn) RoundTrip(r *http.Request) (*http.Response, error) {
	tr := httptrace.ContextClientTrace(r.Context())
	if tr.GotConn != nil { // as net/http calls the hooks
		tr.GotConn(httptrace.GotConnInfo{Reused: true})
	}
	if d.wrote {
		tr.WroteHeaders()
	}
	return nil, errors.New("http: server closed idle connection")
}

// A request counts as sent once its headers are written, not when it got
// a connection.
func TestSentAtWroteHeaders(t *testing.T) {
	for _, wrote := range []bool{false, true} {
		req, err := http.NewRequest(http.MethodPost, "https://127.0.0.1:1/login", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = sendTracer{base: deadConn{wrote: wrote}}.RoundTrip(req)
		if got := errors.Is(err, ErrNotSent); got == wrote {
			t.Errorf("headers written %v: ErrNotSent %v, want %v", wrote, got, !wrote)
		}
	}
}
