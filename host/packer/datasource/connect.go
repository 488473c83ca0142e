// SPDX-License-Identifier: Apache-2.0

package datasource

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// dialTimeout bounds the attempt to reach a running agent: a live agent
// answers in milliseconds, a missing one should not delay the build.
const dialTimeout = 2 * time.Second

// tokenClient is the part of *host.Client the data source uses.
type tokenClient interface {
	Token(ctx context.Context, profile string, o host.TokenOptions) (*host.Token, error)
	Close() error
}

// connector opens a tokenClient: the agent serving the profiles file when one
// answers, else a tokenkeeper child launched through go-plugin. Nil fields
// use the real host functions; tests set hand-written fakes.
type connector struct {
	socketPath func(configPath string) (string, error)
	dial       func(ctx context.Context, socketPath string) (tokenClient, error)
	launch     func(ctx context.Context, o host.LaunchOptions) (tokenClient, error)
	lookPath   func(file string) (string, error)
}

// open returns the client and whether it talks to the agent (true) or to a
// child launched for this call (false), whose tokens end with it.
func (c connector) open(ctx context.Context, cfg Config, logger hclog.Logger) (tokenClient, bool, error) {
	cl, err := c.dialAgent(ctx, cfg.ConfigPath)
	if err == nil {
		logger.Debug("using the running tokenkeeper agent")
		return cl, true, nil
	}
	logger.Debug("no tokenkeeper agent answered; launching the helper", "reason", err)
	cl, err = c.launchHelper(ctx, cfg, logger)
	return cl, false, err
}

// dialAgent reaches the agent serving configPath (each profiles file has
// its own agent socket; empty means tokenkeeper's default file).
func (c connector) dialAgent(ctx context.Context, configPath string) (tokenClient, error) {
	socketPath := c.socketPath
	if socketPath == nil {
		socketPath = agentSocket
	}
	path, err := socketPath(configPath)
	if err != nil {
		return nil, fmt.Errorf("could not find the agent socket: %w", err)
	}
	dial := c.dial
	if dial == nil {
		dial = func(ctx context.Context, p string) (tokenClient, error) { return host.Dial(ctx, p) }
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return dial(ctx, path)
}

func agentSocket(configPath string) (string, error) {
	if configPath == "" {
		return host.DefaultSocketPath()
	}
	return host.SocketPath(configPath)
}

func (c connector) launchHelper(ctx context.Context, cfg Config, logger hclog.Logger) (tokenClient, error) {
	lookPath, launch := c.lookPath, c.launch
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if launch == nil {
		launch = func(ctx context.Context, o host.LaunchOptions) (tokenClient, error) { return host.Launch(ctx, o) }
	}
	helper := cfg.HelperPath
	if helper == "" {
		helper = DefaultHelper
	}
	path, err := lookPath(helper)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("could not find the tokenkeeper binary %q: put it on PATH or set helper_path", helper)
		}
		return nil, fmt.Errorf("could not use the tokenkeeper binary %q: %w", helper, err)
	}
	cl, err := launch(ctx, host.LaunchOptions{Path: path, ConfigPath: cfg.ConfigPath, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("could not launch %s: %w", path, err)
	}
	return cl, nil
}
