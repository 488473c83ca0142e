package proxy

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// record is what the log line of one request says beyond the request
// line: the token it was sent with, and whether it was retried.
type record struct {
	start time.Time

	mu          sync.Mutex // guards fingerprint, tokens and tokenErr
	fingerprint string     // of the last token handed out for the request
	tokens      int        // asked for: a second one is the retry after a 401
	tokenErr    error      // the token service's latest failure
}

type recordKey struct{}

func recordOf(ctx context.Context) *record {
	r, _ := ctx.Value(recordKey{}).(*record)
	if r == nil {
		return &record{} // a request that did not come through ServeHTTP
	}
	return r
}

// recorder is the token source the Transport sees: it notes each token's
// fingerprint in the request's record and marks the token service's
// failures, which the proxy answers differently from upstream's.
type recorder struct{ src host.TokenGetter }

func (r recorder) Token(ctx context.Context, profile string, o host.TokenOptions) (*host.Token, error) {
	t, err := r.src.Token(ctx, profile, o)
	rec := recordOf(ctx)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.tokens++
	if err != nil {
		rec.tokenErr = err
		return nil, &tokenError{err: err}
	}
	rec.fingerprint = t.Fingerprint
	return t, nil
}

func (r recorder) Invalidate(ctx context.Context, profile, fingerprint, reason string) error {
	return r.src.Invalidate(ctx, profile, fingerprint, reason)
}

// tokenError is a failure of the token service: no token, no request.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// log writes the request's one line: never a header, a query or a body.
func (p *Proxy) log(r *http.Request, sw *statusWriter, rec *record) {
	rec.mu.Lock()
	fp, retried := rec.fingerprint, rec.tokens > 1
	rec.mu.Unlock()
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	args := []any{"method", r.Method, "path", r.URL.Path, "status", status,
		"duration", time.Since(rec.start).Round(time.Microsecond).String()}
	if fp != "" {
		args = append(args, "fingerprint", fp)
	}
	if retried {
		args = append(args, "retried", true) // after a 401, with the next token
	}
	p.logger.Info("request", args...)
}

// statusWriter records the status; Unwrap lets http.ResponseController
// reach Flush of the connection (long polls, streamed downloads).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// writeError answers with the Error document of the exec protocol.
func writeError(w http.ResponseWriter, status int, e *exec.Error) {
	w.Header().Set("Content-Type", "application/json")
	if e.Code.Retryable() {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_ = exec.WriteError(w, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// hclogStd is the ReverseProxy's error log (body copy failures) on logger.
func hclogStd(logger hclog.Logger) *log.Logger {
	return logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
}
