package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

func (a *app) agentCommand() *cobra.Command {
	var idle time.Duration
	var detached bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent in the foreground",
		Long: `agent serves the profiles of one configuration file to this user's
processes on a unix socket in the runtime directory, keeping tokens only in
its memory. 'tokenkeeper get' starts one in the background when none runs.
It exits after --idle-timeout without calls, on SIGTERM/SIGINT or on
'tokenkeeper agent stop', revoking what it holds. An idle agent stays up
while it keeps a Cloud Director session alive for a caller's
--min-validity. An agent is kept per configuration file and per value of
the variables its {env: …} secrets read.

Reference (runtime directory, lifetime, hardening, how hosts find it):
docs/agent.md in the tokenkeeper repository.`,
		Example: `  tokenkeeper agent --config ~/.config/tokenkeeper/config.yaml --idle-timeout 8h
  tokenkeeper agent stop`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runAgent(cmd.Context(), idle, cmd.Flags().Changed("idle-timeout"), detached)
		},
	}
	cmd.Flags().DurationVar(&idle, "idle-timeout", 0,
		"exit after this long without calls; 0 = never (default: the config's agent.idle_timeout, 15m)")
	cmd.Flags().BoolVar(&detached, "detached", false, "started by get in the background")
	_ = cmd.Flags().MarkHidden("detached")
	cmd.AddCommand(a.agentStopCommand())
	return cmd
}

// envUnusedTimeout overrides, for tests only, how long a detached agent
// that never handed out a token waits before it exits
// (agent.DefaultUnusedTimeout); the e2e suite shortens it.
const envUnusedTimeout = "TOKENKEEPER_TEST_UNUSED_TIMEOUT"

// runAgent serves until idle, a signal, or stop; then revokes everything.
func (a *app) runAgent(ctx context.Context, idle time.Duration, idleSet, detached bool) error {
	p, abs, cfg, stale, err := a.prepareAgent()
	if err != nil {
		return err
	}
	logger := a.agentLogger(p, detached)
	if a.env.Harden != nil {
		if err := a.env.Harden(); err != nil {
			return err
		}
	}
	unused, err := unusedTimeout(a.env.Getenv, detached)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		logger.Warn(w)
	}
	if !idleSet {
		idle = cfg.Agent.IdleTimeout
	}
	if agentconn.Running(ctx, p.Socket) {
		return exec.Errorf(exec.CodeInvalidArgument, "an agent is already running for %s on %s", abs, p.Socket)
	}
	k, err := a.newKeeper(cfg, logger.Named("keeper"))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// A detached agent may race the end of an exiting one: wait for its
	// run lock a little. In the foreground the check above already said no.
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sock, err := agent.Listen(lctx, p, logger)
	if err != nil {
		_ = k.Close(context.Background())
		return err
	}
	stopProxies := a.agentProxies(ctx, cfg, keeperClient(k), logger)
	if len(cfg.Proxies) > 0 { // their tools never call the agent: it serves until stopped
		idle, unused = 0, 0
	}
	if gone := agent.CleanStale(p.Dir, p, time.Now()); len(gone) > 0 {
		logger.Info("removed the files of agents that are gone", "agents", strings.Join(gone, ","))
	}
	// Go hosts do not load the configuration: the names of the variables
	// it reads let them find this agent (host.SocketPath). Without the
	// file they launch their own helper, so a failure only warns.
	names := envNames(cfg)
	if err := agent.WriteEnvNames(p, names); err != nil {
		logger.Warn("Go hosts will not find this agent", "error", err)
	}
	// The front trusts the names file only if it is no older than the
	// profiles file: a rewrite of the same bytes (a template re-rendered,
	// a checkout) keeps this agent, so it refreshes the file, or every
	// later call would go through the core.
	stale.OnRewrite(func() {
		if err := agent.WriteEnvNames(p, names); err != nil {
			logger.Warn("could not refresh the names file after the configuration was rewritten unchanged", "error", err)
		}
	})
	logger.Info("serving profiles", "config", abs, "profiles", strings.Join(cfg.Names(), ","), "detached", detached)
	o := agentOptions(k, logger)
	o.IdleTimeout, o.UnusedTimeout, o.Stale = idle, unused, stale.Changed
	// The exec socket's callers are other processes: their deadline, as
	// over gRPC, leaves a reserve for the answer to reach them.
	o.Exec = &host.ExecHandler{Client: host.NewClient(plugin.InProcessRelay(k, nil), nil), Endpoint: endpoints(cfg)}
	o.Shutdown = func(ctx context.Context) error { stopProxies(); return k.Close(ctx) }
	return agent.Serve(ctx, sock, o)
}

// agentLogger logs at info unless --log-level says otherwise. A detached
// agent's stderr is its log file in the runtime directory, which then
// rotates by size (agent.LogWriter).
func (a *app) agentLogger(p paths.Agent, detached bool) hclog.Logger {
	if detached && a.env.Stderr == os.Stderr {
		a.env.Stderr = agent.NewLogWriter(p, paths.MaxLogSize)
	}
	return a.logger("info").Named("agent")
}

// unusedTimeout is how long a detached agent waits for its first token
// request (agent.DefaultUnusedTimeout, or $TOKENKEEPER_TEST_UNUSED_TIMEOUT
// in tests); a foreground agent has none: whoever started it decides.
func unusedTimeout(getenv func(string) string, detached bool) (time.Duration, error) {
	if !detached {
		return 0, nil
	}
	v := getenv(envUnusedTimeout)
	if v == "" {
		return agent.DefaultUnusedTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, exec.Errorf(exec.CodeBadConfig, "invalid %s %q: want a positive duration", envUnusedTimeout, v)
	}
	return d, nil
}

// prepareAgent loads the configuration the agent serves and names its
// files, and returns the check that retires it when the file changes.
func (a *app) prepareAgent() (paths.Agent, string, *config.Config, *config.Watch, error) {
	abs, _, err := a.agentDir()
	if err != nil {
		return paths.Agent{}, "", nil, nil, err
	}
	// Hash before loading: a change racing the load retires the agent at
	// its first call, never serves a stale file silently. The agent asks
	// before every call: one stat, a read only when the stat moved.
	stale := config.NewWatch(abs)
	p, cfg, err := a.agentOf()
	if err != nil {
		return paths.Agent{}, "", nil, nil, err
	}
	// Secret commands inherit the agent's environment for its whole life:
	// never the token of a `tokenkeeper exec` it was started in.
	for _, v := range agentconn.TokenVars() {
		_ = os.Unsetenv(v)
	}
	return p, abs, cfg, stale, nil
}

func (a *app) agentStopCommand() *cobra.Command {
	var wait time.Duration
	var all bool
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Ask the running agents to exit, revoking their tokens",
		Long: `stop sends SIGTERM to every agent serving the configuration file, whatever
environment it was started with (found through its socket's peer
credentials), and waits until each has revoked its tokens and exited. With
--all it stops every agent of this user, whatever its configuration file.
With no agent running it says so and succeeds.`,
		Example: `  tokenkeeper agent stop
  tokenkeeper agent stop --config ./lab.yaml
  tokenkeeper agent stop --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.stopAgent(cmd.Context(), wait, all)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 40*time.Second, "how long to wait for the agent to exit")
	cmd.Flags().BoolVar(&all, "all", false, "stop every agent of this user, whatever its configuration file")
	return cmd
}

// stopAgent stops every agent of the configuration file (all: of the
// user), whatever the environment it was started with, and waits until
// they have exited.
func (a *app) stopAgent(ctx context.Context, wait time.Duration, all bool) error {
	sockets, what, err := a.stopTargets(all)
	if err != nil {
		return err
	}
	pids, err := agentconn.Stop(ctx, sockets)
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		fmt.Fprintf(a.env.Stderr, "tokenkeeper: no agent is running for %s\n", what)
		return nil
	}
	for _, pid := range pids {
		if err := a.awaitExit(ctx, pid, wait); err != nil {
			return err
		}
		fmt.Fprintf(a.env.Stderr, "tokenkeeper: agent %d stopped\n", pid)
	}
	return nil
}

// stopTargets lists the sockets of the agents to stop: those of the
// configuration file, or (all) every agent socket in the runtime
// directory. what names them for the message when none runs.
func (a *app) stopTargets(all bool) (sockets []string, what string, err error) {
	if all {
		dir, err := a.runtimeDir()
		if err != nil {
			return nil, "", err
		}
		sockets, err := paths.AgentSockets(dir)
		return sockets, "this user in " + dir.Path(), err
	}
	abs, dir, err := a.agentDir()
	if err != nil {
		return nil, "", err
	}
	agents, err := paths.Agents(dir, abs)
	for _, p := range agents {
		sockets = append(sockets, p.Socket)
	}
	return sockets, abs, err
}

// awaitExit waits for a stopped agent to exit (agentconn.AwaitExit); one
// still running after wait is unavailable (exit 5).
func (a *app) awaitExit(ctx context.Context, pid int, wait time.Duration) error {
	err := agentconn.AwaitExit(ctx, pid, wait)
	if errors.Is(err, agentconn.ErrDidNotExit) {
		return &exec.Error{Code: exec.CodeUnavailable, Message: err.Error(), Err: err}
	}
	return err
}
