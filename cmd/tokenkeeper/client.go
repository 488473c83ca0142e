package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// tokens is what the verbs need from a TokenService: *host.Client (the
// agent) or localTokens (an in-process keeper).
type tokens interface {
	Token(ctx context.Context, profile string, o host.TokenOptions) (*host.Token, error)
	Invalidate(ctx context.Context, profile, fingerprint, reason string) error
	Revoke(ctx context.Context, profile string) error
	Profiles(ctx context.Context) ([]host.ProfileStatus, error)
	Close() error
}

// agentOf is the caller's agent: the one serving the configuration for
// this caller's values of the variables its {env: …} secrets read
// (agentconn.Locate), and the configuration as loaded. The configuration
// is loaded first, so that its errors reach the caller with line numbers
// instead of ending up in the log of an agent started for it.
func (a *app) agentOf() (paths.Agent, *config.Config, error) {
	abs, dir, err := a.agentDir()
	if err != nil {
		return paths.Agent{}, nil, err
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return paths.Agent{}, nil, err
	}
	p, err := agentconn.Locate(dir, abs, envNames(cfg), a.env.Environ)
	return p, cfg, runtimeDirError(err, dir.Path())
}

// agentDir is the absolute configuration path and the runtime directory.
func (a *app) agentDir() (abs string, dir *paths.Dir, err error) {
	cfgPath, err := a.resolveConfigPath()
	if err != nil {
		return "", nil, err
	}
	if abs, err = filepath.Abs(cfgPath); err != nil {
		return "", nil, fmt.Errorf("could not resolve config path: %w", err)
	}
	dir, err = a.runtimeDir()
	return abs, dir, runtimeDirError(err, "")
}

// runtimeDir is the runtime directory, opened once (paths.OpenRuntimeDir)
// and held until runCLI returns (closeRuntimeDir): every state file of
// this process is opened relative to that one descriptor.
func (a *app) runtimeDir() (*paths.Dir, error) {
	if a.runtime == nil {
		d, err := paths.OpenRuntimeDir(a.env.Getenv)
		if err != nil {
			return nil, err
		}
		a.runtime = d
	}
	return a.runtime, nil
}

// closeRuntimeDir releases the runtime directory, if it was opened.
func (a *app) closeRuntimeDir() {
	if a.runtime != nil {
		_ = a.runtime.Close()
		a.runtime = nil
	}
}

// envNames lists the environment variables the configuration's secrets
// read ({env: NAME}), in no particular order.
func envNames(cfg *config.Config) []string {
	var names []string
	for _, p := range cfg.Profiles {
		for _, r := range []*secret.Ref{p.Password, p.APIKey, p.APIToken, p.ServiceAccount} {
			if r != nil && r.Env != "" {
				names = append(names, r.Env)
			}
		}
	}
	return names
}

// connect returns a client of the agent serving the configuration,
// starting one when none answers, and a successor when it retires during
// a call (host.DialWith, agentconn.Start).
func (a *app) connect(ctx context.Context, noAgent bool) (tokens, error) {
	if noAgent {
		return a.local(true)
	}
	p, _, err := a.agentOf()
	if err != nil {
		return nil, err
	}
	start := agentconn.Start(p, a.env.Executable, a.env.Environ)
	return host.DialWith(ctx, p.Socket, host.DialOptions{Start: func(ctx context.Context) error {
		return runtimeDirError(start(ctx), p.Dir.Path())
	}})
}

// dialRunning returns a client of the running agent, or nil when none
// answers: status and logout must not start one.
func (a *app) dialRunning(ctx context.Context) (*host.Client, error) {
	p, _, err := a.agentOf()
	if err != nil {
		return nil, err
	}
	c, err := host.Dial(ctx, p.Socket)
	if err != nil {
		return nil, nil //nolint:nilerr // no agent is an answer, not a failure
	}
	return c, nil
}

// local builds an in-process keeper from the configuration. oneShot: the
// keeper detaches every profile it hands a token out of (Keeper.Detach:
// VCF revokes the refresh token), and Close revokes nothing else, so the
// process leaves behind only the access token it printed.
func (a *app) local(oneShot bool) (*localTokens, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	// One shot: nothing keeps a session alive after this process, so the
	// keeper refuses a min validity only its keepalive could honour.
	k, err := a.newKeeper(cfg, a.logger("off"), func(o *keeper.Options) { o.OneShot = oneShot })
	if err != nil {
		return nil, err
	}
	return &localTokens{k: k, oneShot: oneShot}, nil
}

// newKeeper builds the keeper of the agent or of an in-process call, with
// the safety margin of $TOKENKEEPER_SAFETY_MARGIN as in plugin mode.
func (a *app) newKeeper(cfg *config.Config, logger hclog.Logger, tune ...func(*keeper.Options)) (*keeper.Keeper, error) {
	margin, err := safetyMargin(a.env.Getenv(envSafetyMargin))
	if err != nil {
		return nil, exec.Errorf(exec.CodeBadConfig, "invalid %s: %v", envSafetyMargin, err)
	}
	tune = append([]func(*keeper.Options){func(o *keeper.Options) { o.SafetyMargin = margin }}, tune...)
	k, err := buildKeeper(cfg, logger, a.env, tune...)
	if err != nil {
		return nil, &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
	}
	return k, nil
}

// localTokens adapts an in-process *keeper.Keeper to tokens.
type localTokens struct {
	k       *keeper.Keeper
	oneShot bool
}

func (l *localTokens) Token(ctx context.Context, profile string, o host.TokenOptions) (*host.Token, error) {
	t, err := l.k.Get(ctx, profile, keeper.GetOptions{MinValidity: o.MinValidity, ForceRefresh: o.ForceRefresh,
		AllowShorter: o.AllowShorter})
	if err != nil {
		return nil, l.withUnsaved(err)
	}
	// One shot: leave behind only the access token handed out. The keeper
	// knows what that allows revoking (VCF: the refresh token; VCD:
	// nothing, a logout would end the token too).
	if l.oneShot {
		if err := l.k.Detach(ctx, profile); err != nil {
			return nil, fmt.Errorf("could not let go of the profile after login: %w", err)
		}
	}
	return &host.Token{
		Profile: t.Profile, Provider: t.Provider, TokenType: t.TokenType,
		HeaderName: t.HeaderName, Access: t.Access, HeaderValue: t.HeaderValue,
		ExpiresAt: t.ExpiresAt, Fingerprint: t.Fingerprint, ShorterThanRequested: t.Shorter,
		Principal: t.Principal, Role: t.Role,
	}, nil
}

func (l *localTokens) Invalidate(ctx context.Context, profile, fingerprint, reason string) error {
	_, err := l.k.Invalidate(ctx, profile, fingerprint, reason)
	return err
}

func (l *localTokens) Revoke(ctx context.Context, profile string) error {
	return l.k.Revoke(ctx, profile)
}

func (l *localTokens) Profiles(context.Context) ([]host.ProfileStatus, error) {
	var out []host.ProfileStatus
	for _, s := range l.k.Status() {
		out = append(out, fromKeeperStatus(s))
	}
	return out, nil
}

// withUnsaved adds to the error of a failed one-shot call what became of
// a rotated service-account token the call could not store: the call is
// stopped (its provider saves the token to a recovery file) and the error
// names that file, unless err does already.
func (l *localTokens) withUnsaved(err error) error {
	if !l.oneShot {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = l.k.Abandon(ctx)
	var ns *secret.NotStoredError
	if errors.As(err, &ns) {
		return err
	}
	if uerr := l.k.SaveUnsaved(ctx); uerr != nil {
		return fmt.Errorf("%w; %w", err, uerr)
	}
	return err
}

// Close of a one-shot keeper revokes nothing: the process is about to
// exit and the token it printed must stay valid. It stops the calls in
// flight, so that a rotated token one could not store is saved to its
// recovery file before the process exits.
func (l *localTokens) Close() error {
	if l.oneShot {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return l.k.Abandon(ctx)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return l.k.Close(ctx)
}

func fromKeeperStatus(s keeper.Status) host.ProfileStatus {
	return host.ProfileStatus{
		Profile: s.Profile, Provider: s.Provider, URL: s.URL, State: string(s.State),
		AccessExpiresAt: s.AccessExpiresAt, RefreshExpiresAt: s.RefreshExpiresAt,
		Fingerprint: s.Fingerprint, LastError: s.LastError, RetryAt: s.RetryAt, LastUsed: s.LastUsed,
		Logins: s.Counts.Logins, LoginFailures: s.Counts.LoginFailures, Refreshes: s.Counts.Refreshes,
		RefreshFailures: s.Counts.RefreshFailures, Revocations: s.Counts.Revocations,
		FailedAttempts: s.FailedAttempts, NextAttemptAt: s.NextAttemptAt,
		Principal: s.Principal, Role: s.Role, Scopes: strings.Fields(s.Scopes),
	}
}

// document is the Token document of t, with the URL and CA file of its
// profile in the configuration this invocation loaded.
func (a *app) document(t *host.Token) exec.Token {
	d := toDocument(t)
	if a.cfg != nil {
		if p := a.cfg.Profiles[t.Profile]; p != nil {
			d.URL, d.CAFile = p.URL, p.CAFile
		}
	}
	return d
}

// toDocument is the one place a token leaves its Secret wrappers: for
// stdout or a child's environment.
func toDocument(t *host.Token) exec.Token {
	return exec.NewToken(exec.Token{
		Profile: t.Profile, Provider: t.Provider, Token: t.Access.Reveal(), TokenType: t.TokenType,
		Header:    exec.Header{Name: t.HeaderName, Value: t.HeaderValue.Reveal()},
		ExpiresAt: t.ExpiresAt, Fingerprint: t.Fingerprint,
		ShorterThanRequested: t.ShorterThanRequested,
		Principal:            t.Principal, Role: t.Role,
	})
}
