package sim

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

// RunOptions configure Run.
type RunOptions struct {
	// Listen is the address to listen on; "" means 127.0.0.1:0.
	Listen string
	// TLS serves HTTPS with a fresh self-signed CA (see SelfSignedTLS).
	TLS bool
	// CAOut is where the CA certificate (PEM) is written when TLS is on;
	// "" writes it to a temporary file removed at exit.
	CAOut string
	// Log receives one line per request (method, path, status; never
	// headers or bodies). nil means os.Stderr.
	Log io.Writer
}

// Ready is the one JSON line Run prints on stdout once it serves.
type Ready struct {
	URL    string `json:"url"`
	CAFile string `json:"caFile,omitempty"`
}

// Run serves b (wrapped by NewHandler) until ctx is done, then shuts down
// gracefully. Once listening it prints exactly one line on stdout:
// {"url":"https://127.0.0.1:PORT","caFile":"…"}.
func Run(ctx context.Context, o RunOptions, b Backend, stdout io.Writer) error {
	logw := o.Log
	if logw == nil {
		logw = os.Stderr
	}
	ln, ready, cleanup, err := listen(o)
	if err != nil {
		return err
	}
	defer cleanup()
	srv := &http.Server{
		Handler:           LogRequests(NewHandler(b), logw),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logw, "tokenkeeper-sim: ", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	line, _ := json.Marshal(ready)
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		_ = srv.Close()
		return fmt.Errorf("could not write the ready line: %w", err)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// listen opens the listener, with TLS and the CA file when asked, and
// returns what the ready line says and a cleanup for the CA file.
func listen(o RunOptions) (net.Listener, Ready, func(), error) {
	addr := o.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, Ready{}, nil, fmt.Errorf("could not listen on %s: %w", addr, err)
	}
	if !o.TLS {
		return ln, Ready{URL: "http://" + hostPort(ln.Addr())}, func() {}, nil
	}
	cfg, caPEM, err := SelfSignedTLS()
	if err != nil {
		_ = ln.Close()
		return nil, Ready{}, nil, err
	}
	caFile, cleanup, err := writeCA(o.CAOut, caPEM)
	if err != nil {
		_ = ln.Close()
		return nil, Ready{}, nil, err
	}
	// HTTP/1.1 only: keeps connection-reset faults (hijack) possible.
	cfg.NextProtos = []string{"http/1.1"}
	return tls.NewListener(ln, cfg), Ready{URL: "https://" + hostPort(ln.Addr()), CAFile: caFile}, cleanup, nil
}

// hostPort renders a listener address for a URL; an unspecified address
// becomes 127.0.0.1 so the URL is dialable.
func hostPort(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(ta.Port))
}

// writeCA writes the CA PEM (public, so 0644) and returns its path and a
// cleanup removing it when it was a temporary file.
func writeCA(path string, caPEM []byte) (string, func(), error) {
	if path != "" {
		if err := os.WriteFile(path, caPEM, 0o644); err != nil {
			return "", nil, fmt.Errorf("could not write CA to %s: %w", path, err)
		}
		return path, func() {}, nil
	}
	f, err := os.CreateTemp("", "tokenkeeper-sim-ca-*.pem")
	if err != nil {
		return "", nil, fmt.Errorf("could not create a CA file: %w", err)
	}
	name := f.Name()
	_, werr := f.Write(caPEM)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(name)
		return "", nil, fmt.Errorf("could not write CA to %s: %w", name, werr)
	}
	return name, func() { _ = os.Remove(name) }, nil
}

// LogRequests logs one line per request to w: method, path and status,
// never headers, query or bodies.
func LogRequests(next http.Handler, w io.Writer) http.Handler {
	l := log.New(w, "", log.LstdFlags)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: rw}
		start := time.Now()
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			if sw.hijacked {
				status = 0
			}
			l.Printf("%s %s %d %s", r.Method, r.URL.Path, status, time.Since(start).Round(time.Microsecond))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter records the status; Unwrap lets http.ResponseController
// reach the connection for Hijack.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
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

// Hijack marks the request as answered by a dropped connection.
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil {
		s.hijacked = true
	}
	return c, rw, err
}
