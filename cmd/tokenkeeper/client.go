package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

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
// read ({env: NAME}) and, when the profiles use Vault, the variables the
// Vault connections read (vaultEnvNames), in no particular order.
func envNames(cfg *config.Config) []string {
	var names []string
	for _, p := range cfg.Profiles {
		for _, r := range []*secret.Ref{p.Password, p.APIKey, p.APIToken, p.ServiceAccount} {
			if r != nil && r.Env != "" {
				names = append(names, r.Env)
			}
		}
	}
	return append(names, vaultEnvNames(cfg)...)
}

// connect returns a client of the agent serving the configuration,
// starting one when none answers, and a successor when it retires during
// a call (host.DialWith, agentconn.Start); with noAgent, a one-shot
// client of a keeper in this process (inProcess).
func (a *app) connect(ctx context.Context, noAgent bool) (*host.Client, error) {
	if noAgent {
		return a.inProcess(true)
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

// document is the Token document of t, with the URL and CA file of its
// profile in the configuration this invocation loaded: the bytes the
// agent's exec socket answers (host.Document).
func (a *app) document(t *host.Token) exec.Token {
	url, ca := endpoints(a.cfg)(t.Profile)
	return host.Document(t, url, ca)
}

// endpoints gives the URL and CA file of a profile of cfg ("" for none).
func endpoints(cfg *config.Config) func(profile string) (url, caFile string) {
	return func(profile string) (string, string) {
		if cfg != nil {
			if p := cfg.Profiles[profile]; p != nil {
				return p.URL, p.CAFile
			}
		}
		return "", ""
	}
}
