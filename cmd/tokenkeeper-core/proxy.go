package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/host/proxy"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcd"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcenter"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcf"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Environment variables `tokenkeeper exec --proxy` gives its command.
const (
	envProxyURL    = "TOKENKEEPER_PROXY_URL"
	envProxySocket = "TOKENKEEPER_PROXY_SOCKET"
)

// proxySpec is one proxy to run: the verb's flags, exec --proxy's, or a
// `proxies:` entry of the profiles file.
type proxySpec struct {
	profile string
	// listen is a --listen value; "" is the socket named socketName in
	// the runtime directory.
	listen     string
	socketName string
	// requireHeader, if set, is checked on every request; its random
	// value is written to headerFile (default: in the runtime directory).
	requireHeader string
	headerFile    string
	// timeout bounds the wait for upstream's response headers, and each
	// request's token is asked valid at least that long.
	timeout time.Duration
}

// defaultProxyTimeout is --timeout of proxy and exec --proxy.
const defaultProxyTimeout = 30 * time.Second

func (a *app) proxyCommand() *cobra.Command {
	var s proxySpec
	var noAgent bool
	cmd := &cobra.Command{
		Use:   "proxy --profile NAME [--listen unix:PATH | 127.0.0.1:PORT]",
		Short: "Serve a local proxy that adds the profile's token to every request",
		Long: `proxy forwards every HTTP request it receives to the profile's url, over TLS
verified with its ca_file, with a valid token in the header the profile needs.
Clients never handle a token: a 401 from upstream is retried once with a new
one, a client's own Authorization is dropped, redirects are passed back, and
when no token can be had the answer is 502/503 with an Error document.

By default it listens on a unix socket in the private runtime directory, for
processes of your uid only. --listen 127.0.0.1:PORT serves tools that cannot
use a socket: EVERY LOCAL USER can then reach it, unless --require-header
makes each request carry a random value that only you can read. It prints one
JSON line on stdout when it serves, and logs one line per request on stderr.
See docs/proxy.md.`,
		Example: `  tokenkeeper proxy --profile sddc &
  curl --unix-socket "$XDG_RUNTIME_DIR/tokenkeeper/proxy-sddc.sock" http://sddc/v1/domains
  tokenkeeper proxy --profile sddc --listen 127.0.0.1:8443 --require-header X-Tokenkeeper-Proxy`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if s.profile, err = a.defaultProfile(s.profile); err != nil {
				return err
			}
			return a.runProxy(cmd.Context(), s, noAgent)
		},
	}
	cmd.Flags().StringVarP(&s.profile, "profile", "p", "", "profile name from the configuration file")
	s.register(cmd)
	cmd.Flags().BoolVar(&noAgent, "no-agent", false, "keep the tokens in this process instead of the agent")
	a.completeProfiles(cmd)
	return cmd
}

// register adds the flags of the proxy verb.
func (s *proxySpec) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.listen, "listen", "",
		"unix:PATH or 127.0.0.1:PORT (default: a unix socket in the runtime directory)")
	cmd.Flags().StringVar(&s.requireHeader, "require-header", "",
		"refuse requests without this header carrying the random value written to --header-file")
	cmd.Flags().StringVar(&s.headerFile, "header-file", "",
		"where the required header's value is written, mode 0600 (default: in the runtime directory)")
	cmd.Flags().DurationVar(&s.timeout, "timeout", defaultProxyTimeout,
		"wait this long for upstream's response headers; each request's token stays valid at least as long")
}

// runProxy serves one proxy in the foreground until SIGINT or SIGTERM.
func (a *app) runProxy(ctx context.Context, s proxySpec, noAgent bool) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	svc, err := a.proxyTokens(ctx, noAgent)
	if err != nil {
		return err
	}
	defer svc.Close()
	s.socketName = "proxy-" + s.profile + ".sock"
	rp, err := a.startProxy(s, svc, a.logger("info").Named("proxy"))
	if err != nil {
		return err
	}
	defer rp.close()
	line, _ := json.Marshal(rp.ready)
	fmt.Fprintf(a.env.Stdout, "%s\n", line)
	return rp.serve(ctx)
}

// proxyTokens is where a proxy's tokens come from: the agent, or with
// --no-agent a keeper of the proxy's own for its whole life (not get's
// one-shot keeper, which lets go of a profile after one token): it
// refreshes, keeps sessions alive, and revokes when the proxy exits.
func (a *app) proxyTokens(ctx context.Context, noAgent bool) (*host.Client, error) {
	if noAgent {
		return a.inProcess(false)
	}
	return a.connect(ctx, false)
}

// proxyReady is the line `tokenkeeper proxy` prints once it serves.
type proxyReady struct {
	Profile string `json:"profile"`
	// URL is the base URL to send requests to; with a socket its host
	// is only what the request line names (curl --unix-socket).
	URL    string `json:"url"`
	Socket string `json:"socket,omitempty"`
	// HeaderName and HeaderFile: the required header and where its value is.
	HeaderName string `json:"headerName,omitempty"`
	HeaderFile string `json:"headerFile,omitempty"`
}

// runningProxy is a proxy listening, not yet serving.
type runningProxy struct {
	ready proxyReady
	serve func(ctx context.Context) error
	close func()
}

// startProxy checks the profile, listens where s says and returns the
// proxy, ready to serve with svc's tokens.
func (a *app) startProxy(s proxySpec, svc host.TokenGetter, logger hclog.Logger) (*runningProxy, error) {
	p, err := a.proxyProfile(s.profile)
	if err != nil {
		return nil, err
	}
	rt, err := provider.NewTransport(provider.HTTPOptions{CAFile: p.CAFile, InsecureSkipVerify: p.InsecureSkipVerify,
		ResponseHeaderTimeout: s.timeout, MaxIdleConnsPerHost: 64, Logger: logger})
	if err != nil {
		return nil, &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
	}
	o := proxy.Options{Profile: s.profile, Upstream: p.URL, Tokens: svc, Transport: rt, MinValidity: s.timeout,
		KeepAlive: sessionIdle(p), SessionPaths: sessionPaths(p), Classify: classifyProxy, Logger: logger}
	l, err := proxy.Listen(proxy.ListenOptions{Address: s.listen, Name: s.socketName, RuntimeDir: a.runtimeDir, Logger: logger})
	if err != nil {
		return nil, runtimeDirError(err, "")
	}
	ready := proxyReady{URL: l.URL, Socket: l.Socket}
	cleanup := func() { _ = l.Close() }
	if s.requireHeader != "" {
		file, value, err := a.writeHeaderFile(s)
		if err != nil {
			cleanup()
			return nil, err
		}
		o.RequireHeader, o.RequireValue = s.requireHeader, value
		ready.HeaderName, ready.HeaderFile = s.requireHeader, file
		cleanup = func() { _ = l.Close(); _ = os.Remove(file) }
	}
	px, err := proxy.New(o)
	if err != nil {
		cleanup()
		return nil, err
	}
	ready.Profile = s.profile
	logger.Info("proxy serving", "profile", s.profile, "upstream", p.URL, "url", ready.URL, "socket", ready.Socket)
	return &runningProxy{ready: ready, serve: func(ctx context.Context) error { return px.Serve(ctx, l) }, close: cleanup}, nil
}

// vcdIdleTimeout is Cloud Director's default session idle timeout.
const vcdIdleTimeout = 30 * time.Minute

// sessionIdle is how long a session of p lives unused, for the proxy's
// keepalive: Cloud Director's and vCenter's (the profile's idle_timeout,
// else the default; a server with a shorter one is kept alive all the
// same); zero for providers whose tokens only expire.
func sessionIdle(p *config.Profile) time.Duration {
	switch p.Provider {
	case config.ProviderVCD:
		return cmp.Or(p.IdleTimeout, vcdIdleTimeout)
	case config.ProviderVCenter:
		return cmp.Or(p.IdleTimeout, vcenter.DefaultIdleTimeout)
	}
	return 0
}

// sessionPaths are the provider's login and logout paths, which the
// proxy does not forward.
func sessionPaths(p *config.Profile) []string {
	switch p.Provider {
	case config.ProviderVCF:
		return vcf.SessionPaths()
	case config.ProviderVCD:
		return vcd.SessionPaths()
	case config.ProviderVCenter:
		return vcenter.SessionPaths()
	}
	return nil
}

// proxyProfile is the profile a proxy serves, from the configuration.
func (a *app) proxyProfile(name string) (*config.Profile, error) {
	cfg := a.cfg
	if cfg == nil {
		var err error
		if cfg, err = a.loadConfig(); err != nil {
			return nil, err
		}
	}
	p := cfg.Profiles[name]
	if p == nil {
		return nil, exec.Errorf(exec.CodeNotFound, "unknown profile %q: the profiles file defines %v", name, cfg.Names())
	}
	if p.URL == "" {
		return nil, exec.Errorf(exec.CodeBadConfig, "profile %q has no url to proxy to", name)
	}
	return p, nil
}

// writeHeaderFile writes a fresh random value for the required header to
// a 0600 file and returns its path and the value.
func (a *app) writeHeaderFile(s proxySpec) (string, secret.Secret, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	value := secret.New(hex.EncodeToString(b))
	path := s.headerFile
	if path == "" {
		dir, err := a.runtimeDir()
		if err != nil {
			return "", secret.Secret{}, runtimeDirError(err, "")
		}
		path = dir.Join("proxy-" + s.profile + ".header")
	}
	if err := secret.WriteFileAtomic(path, []byte(value.Reveal()+"\n"), 0o600); err != nil {
		return "", secret.Secret{}, exec.Errorf(exec.CodeBadConfig, "could not write the header file: %v", err)
	}
	return path, value, nil
}

// classifyProxy is the proxy's Error document for a failure: the CLI's
// classifier, with an upstream that did not answer explained as the
// providers explain it (an untrusted certificate, a refused connection).
func classifyProxy(err error) *exec.Error {
	var ue *proxy.UpstreamError
	if errors.As(err, &ue) {
		return classify(provider.TransportError("proxy request", ue.Method, ue.Path, ue.Err))
	}
	return classify(err)
}

// execProxy runs argv with a proxy of f.profile serving for its
// lifetime, on a fresh socket (or s.listen), named in its environment by
// TOKENKEEPER_PROXY_URL and TOKENKEEPER_PROXY_SOCKET. No token enters
// the environment: one would go stale, the proxy's never do. As with
// exec, the command does not run when no token can be had.
func (a *app) execProxy(ctx context.Context, f tokenFlags, s proxySpec, argv []string) error {
	svc, err := a.proxyTokens(ctx, f.noAgent)
	if err != nil {
		return err
	}
	defer svc.Close()
	tctx, cancel := context.WithTimeout(ctx, f.timeout)
	_, err = svc.Token(tctx, f.profile, host.TokenOptions{MinValidity: max(s.timeout, f.minValidity)})
	cancel()
	if err != nil {
		return err
	}
	s.profile = f.profile
	s.socketName = fmt.Sprintf("proxy-%s-exec-%d.sock", f.profile, os.Getpid())
	rp, err := a.startProxy(s, svc, a.logger("off").Named("proxy"))
	if err != nil {
		return err
	}
	defer rp.close()
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- rp.serve(sctx) }()
	env := append(append([]string{}, a.env.Environ...), envProxyURL+"="+rp.ready.URL)
	if rp.ready.Socket != "" {
		env = append(env, envProxySocket+"="+rp.ready.Socket)
	}
	code, err := a.run(argv, env)
	a.exitCode = code
	stop()
	return errors.Join(err, <-served)
}

// agentProxies starts the proxies of the profiles file (`proxies:`) on
// the agent's own keeper; stop ends them and waits until they have. A
// proxy that cannot start (its address taken, say by the agent of
// another view of the environment) is logged and left out: the agent
// still serves its tokens.
func (a *app) agentProxies(ctx context.Context, cfg *config.Config, svc host.TokenGetter, logger hclog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var started []*runningProxy
	stop = func() {
		cancel()
		wg.Wait()
		for _, rp := range started {
			rp.close()
		}
	}
	for _, px := range cfg.Proxies {
		s := proxySpec{profile: px.Profile, listen: px.Listen, socketName: "proxy-" + px.Profile + ".sock",
			requireHeader: px.RequireHeader, headerFile: px.HeaderFile, timeout: cmp.Or(px.Timeout, defaultProxyTimeout)}
		rp, err := a.startProxy(s, svc, logger.Named("proxy"))
		if err != nil {
			logger.Error("proxy not started", "profile", px.Profile, "error", err)
			continue
		}
		started = append(started, rp)
		wg.Go(func() {
			if err := rp.serve(ctx); err != nil {
				logger.Error("proxy stopped", "profile", px.Profile, "error", err)
			}
		})
	}
	return stop
}
