package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// shutdownGrace is how long requests in flight may finish once Serve is
// asked to stop.
const shutdownGrace = 10 * time.Second

// Serve answers on l until ctx ends, then stops accepting and lets the
// requests in flight finish (shutdownGrace at most). Clients may speak
// HTTP/1.1 or, with prior knowledge, unencrypted HTTP/2. With
// Options.KeepAlive it keeps the profile's session alive while it serves.
func (p *Proxy) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: hclogStd(p.logger), Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	if p.o.KeepAlive > 0 {
		warm, stopWarm := context.WithCancel(ctx)
		defer stopWarm()
		go p.keepWarm(warm)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("proxy: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("proxy: %w", err)
	}
	return nil
}

// keepWarm asks for the profile's token, valid for KeepAlive, at once and
// then every KeepAlive/2 until ctx ends. A session with an idle timeout no
// longer than KeepAlive cannot last that long unused, so the token service
// keeps it alive with probes until then (DESIGN rule 11): a tool pausing
// longer than the idle timeout still finds the session, no new login. It
// logs a failure, and the first success after one.
func (p *Proxy) keepWarm(ctx context.Context) {
	period := max(p.o.KeepAlive/2, time.Second)
	t := time.NewTicker(period)
	defer t.Stop()
	failing := true // the first success is logged
	for {
		tok, err := p.o.Tokens.Token(ctx, p.o.Profile, host.TokenOptions{MinValidity: p.o.KeepAlive})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			p.logger.Warn("no token for the proxy's requests", "profile", p.o.Profile, "error", err)
			failing = true
		case failing:
			p.logger.Info("proxy has a token", "profile", p.o.Profile, "fingerprint", tok.Fingerprint,
				"expires_at", tok.ExpiresAt.UTC().Format(time.RFC3339))
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Address is where a proxy listens: a unix socket or a loopback port.
type Address struct {
	// Unix is the socket path; "" for a TCP address.
	Unix string
	// TCP is a loopback "ip:port" (port 0: any free port).
	TCP string
}

// ErrNotLoopback: a TCP listen address other than a loopback IP. The
// proxy adds a token to whatever reaches it; on any other address that
// would be the network.
var ErrNotLoopback = errors.New("not a loopback address")

// ParseAddress reads a --listen value: "unix:PATH", or "IP:PORT" with a
// loopback IP (127.0.0.0/8, ::1). Host names, even localhost, are refused:
// what they resolve to is not the proxy's to check.
func ParseAddress(s string) (Address, error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return Address{}, errors.New("unix: names no socket path")
		}
		return Address{Unix: path}, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return Address{}, fmt.Errorf("%q is neither unix:PATH nor IP:PORT: %w", s, ErrNotLoopback)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return Address{}, fmt.Errorf("%s: %w (use 127.0.0.1:PORT or unix:PATH)", ap.Addr(), ErrNotLoopback)
	}
	return Address{TCP: ap.String()}, nil
}
