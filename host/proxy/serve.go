package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
