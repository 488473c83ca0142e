package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// envLogLevel sets the plugin's log level (trace, debug, info, warn, error);
// the host sees the lines through its go-plugin logger.
const envLogLevel = "TOKENKEEPER_LOG_LEVEL"

// envSafetyMargin overrides the keeper's safety margin. Rarely needed: the
// default is 30 s or a tenth of the token's lifetime, whichever is
// shorter, so even tokens of a few seconds (simulators, demos) work.
const envSafetyMargin = "TOKENKEEPER_SAFETY_MARGIN"

// revokeBudget bounds the revocation when the host closes the plugin.
// go-plugin's Client.Kill sends the Shutdown RPC, and once that returns
// waits 2 s for the process to exit before it sends SIGKILL. Our budget
// starts a little later (when Serve returns after the gRPC server stops)
// and must leave room for the exit and for the host to notice it, which
// on a loaded 2-core machine takes up to a few hundred milliseconds. The
// keeper revokes all profiles concurrently and cancels calls in flight,
// so the budget bounds the slowest single revocation (one HTTPS request;
// the e2e suite measures the whole Close at well under this), not their
// sum. A revocation cut short by the budget is logged; one cut short by
// SIGKILL would not be.
const revokeBudget = 1500 * time.Millisecond

// signalBudget bounds the revocation on SIGTERM or when the host has died:
// no go-plugin timer runs then, only a service manager's stop timeout
// (docker's default is 10 s), so a slow upstream gets more time.
const signalBudget = 5 * time.Second

// runPlugin serves the keeper of the configured profiles to a go-plugin
// host until the host shuts it down, then revokes every token it holds.
// Everything it reports goes to stderr as hclog JSON.
func runPlugin(ctx context.Context, args []string, env cliEnv) int {
	logger := plugin.NewLogger(pluginLogLevel(env.Getenv(envLogLevel)), env.Stderr)
	path := pluginConfigPath(args, env.Getenv)
	if path == "" {
		logger.Error("no configuration file: set TOKENKEEPER_CONFIG")
		return 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		logger.Error("could not load configuration", "error", err)
		return 2
	}
	margin, err := safetyMargin(env.Getenv(envSafetyMargin))
	if err != nil {
		logger.Error("invalid "+envSafetyMargin, "error", err)
		return 2
	}
	k, err := buildKeeper(cfg, logger.Named("keeper"), env, func(o *keeper.Options) { o.SafetyMargin = margin })
	if err != nil {
		logger.Error("could not set up the profiles", "error", err)
		return 2
	}
	// When the host dies, the pipe our log lines go to has no reader: a
	// write to it must fail quietly, not kill us with SIGPIPE (the Go
	// runtime's default for fd 2) before the orphan check revokes.
	signal.Ignore(syscall.SIGPIPE)
	sd := &shutdown{k: k, logger: logger}
	stop := sd.onSignalOrOrphan(syscall.SIGTERM)
	defer stop()
	plugin.Serve(k, logger)
	sd.close("host closed the plugin", revokeBudget)
	return 0
}

// shutdown revokes once, whichever of the host's Kill, a SIGTERM or the
// host's death comes first.
type shutdown struct {
	k      *keeper.Keeper
	logger hclog.Logger
	once   sync.Once
}

func (s *shutdown) close(why string, budget time.Duration) {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		s.logger.Debug("shutting down: revoking tokens", "reason", why)
		if err := s.k.Close(ctx); err != nil {
			s.logger.Warn("could not revoke every token on shutdown", "error", err)
		}
		// The host is ending us: a rotated token we could not store is
		// in its recovery file (Close stopped the call that held it).
		if err := s.k.SaveUnsaved(ctx); err != nil {
			s.logger.Error("exiting with a rotated token that is not stored", "error", err)
		}
	})
}

// onSignalOrOrphan revokes and exits on sig, or when the host process dies
// without closing us (we get re-parented): otherwise live refresh tokens
// would outlive the host. go-plugin itself ignores SIGINT in plugins, since
// a terminal's Ctrl-C reaches the host too and the host decides.
func (s *shutdown) onSignalOrOrphan(sig ...os.Signal) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sig...)
	done := make(chan struct{})
	parent := os.Getppid()
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case got := <-ch:
				s.close(fmt.Sprintf("signal %v", got), signalBudget)
				os.Exit(0)
			case <-tick.C:
				if os.Getppid() != parent {
					s.close("host process is gone", signalBudget)
					os.Exit(0)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// pluginConfigPath is --config (a host may pass it in the command line),
// else $TOKENKEEPER_CONFIG, else the XDG default.
func pluginConfigPath(args []string, getenv func(string) string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return paths.ConfigFile(getenv)
}

func pluginLogLevel(s string) hclog.Level {
	if s == "" {
		return hclog.Info
	}
	if l := hclog.LevelFromString(s); l != hclog.NoLevel {
		return l
	}
	return hclog.Info
}

// safetyMargin parses $TOKENKEEPER_SAFETY_MARGIN; empty means the keeper's
// default.
func safetyMargin(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}
