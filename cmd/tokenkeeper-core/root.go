package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// cliEnv is every edge of the process the CLI touches, so that the whole
// CLI runs in-process in tests with its own stdin, stdout and environment
// (the composition-root style of kubelogin). The clock is not one of
// them: time is the runtime clock, and a test that must move it runs in a
// testing/synctest bubble (the project's one time policy).
type cliEnv struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StdinTerminal: Stdin is a terminal (get then reads no request
	// from it when $TOKENKEEPER_PROFILE names the profile).
	StdinTerminal bool
	// StderrTerminal: Stderr is a terminal, where a person waits and
	// reads progress lines (get shows upstream retries).
	StderrTerminal bool
	// Getenv reads the environment (config path, XDG dirs, secrets).
	Getenv func(string) string
	// Environ is the environment handed to children: the agent (which
	// resolves {env: …} secrets from it) and `exec` commands.
	Environ []string
	// Executable is this binary, started as the agent.
	Executable string
	// OneCall, if set, runs when a verb is about to make its one call to
	// the agent and exit (get, env, exec). The real process then runs on
	// one P: gRPC's goroutines hand the call to each other many times,
	// and with one P that is a goroutine switch instead of waking another
	// thread (a warm get: 7 % less wall time, 10 % less CPU, measured).
	// Tests leave it nil, so the test binary keeps its parallelism.
	OneCall func()
	// Harden, if set, turns the agent process into a daemon that keeps
	// its secrets (agent.Harden: cwd /, no core dumps, not dumpable).
	// Tests leave it nil: they run the agent inside the test binary.
	Harden func() error
}

// osEnv is the real process environment.
func osEnv() cliEnv {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return cliEnv{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		StdinTerminal: term.IsTerminal(int(os.Stdin.Fd())), StderrTerminal: term.IsTerminal(int(os.Stderr.Fd())),
		Environ: os.Environ(), Executable: exe,
		OneCall: func() { runtime.GOMAXPROCS(1) }, Harden: agent.Harden}
}

// app is one CLI invocation: the environment and the global flags.
type app struct {
	env        cliEnv
	configPath string // --config
	logLevel   string // --log-level
	// exitCode is set by verbs whose status is not an error of ours
	// (exec passes through the command's status).
	exitCode int
	// cfg is the configuration as last loaded (loadConfig), for the
	// profile's URL and CA file in the Token document.
	cfg *config.Config
	// started turns true once flags and arguments parsed and a verb runs;
	// an error before that is a usage error.
	started bool
	// runtime is the runtime directory once opened (runtimeDir).
	runtime *paths.Dir
}

// machineVerbs answer failures with a JSON Error document on stdout when
// their output format is json (the default, and a JSON request on stdin);
// the raw formats leave stdout empty, so that `curl -H "$(tokenkeeper get
// --format header)"` never sends an error message upstream as a header.
// The other verbs (human verbs, and exec/env whose stdout belongs to a
// command or a shell) write only to stderr.
var machineVerbs = map[string]bool{"get": true, "invalidate": true}

// oneLineVerbs are the verbs scripts call: their failure is one stderr
// line, as the protocol promises. The human verbs print a message as it
// is: config check one problem per line, cobra's "Did you mean" hints.
var oneLineVerbs = map[string]bool{"get": true, "invalidate": true, "env": true, "exec": true}

// runCLI runs the command line args (without the program name) and returns
// the exit status.
func runCLI(ctx context.Context, args []string, env cliEnv) int {
	a := &app{env: env}
	defer a.closeRuntimeDir()
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return a.exitCode
	}
	name := ""
	if cmd != nil {
		name = cmd.Name()
	}
	var se *exec.StartError
	if errors.As(err, &se) {
		fmt.Fprintf(env.Stderr, "tokenkeeper: %s\n", exec.OneLine(se.Error()))
		return se.Status
	}
	e := a.classify(err)
	if oneLineVerbs[name] {
		return exec.Fail(env.Stdout, env.Stderr, firstProblem(e), machineVerbs[name] && !rawFormat(cmd, args))
	}
	fmt.Fprintf(env.Stderr, "tokenkeeper: %s\n", strings.TrimRight(e.Message, "\n"))
	return e.Code.ExitCode()
}

func (a *app) rootCommand() *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "tokenkeeper",
		Short: "Own the lifecycle of VMware API bearer tokens",
		Long: `tokenkeeper logs in to VCF SDDC Manager and VMware Cloud Director, caches and
refreshes the tokens in a per-user agent, and hands them to any program:
as JSON on stdout (get), as environment variables (exec, env), or over gRPC.`,
		Example: `  tokenkeeper get --profile sddc
  echo '{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}' | tokenkeeper get
  tokenkeeper exec --profile sddc -- sh -c 'curl -H "$TOKENKEEPER_HEADER_NAME: $TOKENKEEPER_HEADER_VALUE" …'
  tokenkeeper status`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.started = true
			if err := checkTextFlags(cmd); err != nil {
				return err
			}
			return checkLogLevel(a.logLevel)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				return a.printVersion()
			}
			return cmd.Help()
		},
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "",
		"profiles file (default: $TOKENKEEPER_CONFIG, else $XDG_CONFIG_HOME/tokenkeeper/config.yaml,\n"+
			"else ~/.config/tokenkeeper/config.yaml)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "",
		"log level on stderr: "+strings.Join(logLevels, ", ")+" (default off; info for the agent)")
	root.Flags().BoolVar(&showVersion, "version", false, "print the version (as the version verb)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exec.Error{Code: exec.CodeInvalidArgument, Message: err.Error(), Err: err}
	})
	root.AddCommand(a.getCommand(), a.invalidateCommand(), a.envCommand(), a.execCommand(),
		a.agentCommand(), a.statusCommand(), a.logoutCommand(), a.configCommand(), a.versionCommand(),
		a.guardCommand(), a.proxyCommand())
	root.AddCommand(a.toolCommands(root)...)
	// Before the completion command: cobra gives it the writer of now.
	root.SetIn(a.env.Stdin)
	root.SetOut(a.env.Stdout) // help and completion scripts, on request only
	root.SetErr(a.env.Stderr)
	a.completionCommand(root)
	return root
}

// textFlags travel to the agent in gRPC strings, which must be UTF-8:
// gRPC refuses anything else with a raw marshalling error.
var textFlags = []string{"profile", "fingerprint", "reason"}

// checkTextFlags refuses a text flag that is not UTF-8 as a usage error,
// without echoing it (it may be a secret pasted in the wrong place).
func checkTextFlags(cmd *cobra.Command) error {
	for _, name := range textFlags {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed && !utf8.ValidString(f.Value.String()) {
			return usageError("--%s is not valid UTF-8 (value not shown): profile names, fingerprints and reasons are text", name)
		}
	}
	return nil
}

// logLevels are the valid --log-level values.
var logLevels = []string{"trace", "debug", "info", "warn", "error", "off"}

// checkLogLevel refuses a level hclog would silently read as info.
func checkLogLevel(level string) error {
	if level == "" {
		return nil
	}
	for _, l := range logLevels {
		if strings.EqualFold(level, l) {
			return nil
		}
	}
	return usageError("unknown --log-level %q: use one of %s", level, strings.Join(logLevels, ", "))
}

// noArgs refuses positional arguments, naming the first: `get -p x sddc`.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("unexpected argument %q", args[0])
	}
	return nil
}

// resolveConfigPath is --config, else the default location.
func (a *app) resolveConfigPath() (string, error) {
	p := a.configPath
	if p == "" {
		p = paths.ConfigFile(a.env.Getenv)
	}
	if p == "" {
		return "", exec.Errorf(exec.CodeBadConfig, "no profiles file: neither HOME nor XDG_CONFIG_HOME is set; "+
			"pass --config FILE or set $TOKENKEEPER_CONFIG")
	}
	return p, nil
}

// initHint is how to start a profiles file.
const initHint = "tokenkeeper config init --profile NAME --provider vcf|vcd --url URL --username USER --password-env VAR"

// loadConfig reads and validates the profiles file.
func (a *app) loadConfig() (*config.Config, error) {
	p, err := a.resolveConfigPath()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(p)
	if errors.Is(err, fs.ErrNotExist) && a.configPath == "" {
		return nil, &exec.Error{Code: exec.CodeBadConfig, Err: err, Message: fmt.Sprintf("no profiles file at %s: "+
			"pass --config FILE, set $TOKENKEEPER_CONFIG, or write one with '%s'", p, initHint)}
	}
	if err != nil {
		return nil, &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
	}
	a.cfg = cfg
	return cfg, nil
}

// logger writes readable hclog lines to stderr at --log-level, or at def
// when the flag is not set; "off" discards. Times, of the line and of its
// values, are RFC 3339.
func (a *app) logger(def string) hclog.Logger {
	level := a.logLevel
	if level == "" {
		level = def
	}
	if strings.EqualFold(level, "off") {
		return hclog.NewNullLogger()
	}
	return timeLogger{Logger: hclog.New(&hclog.LoggerOptions{
		Name: "tokenkeeper", Level: hclog.LevelFromString(level), Output: a.env.Stderr,
		TimeFormat: logTimeFormat,
	})}
}
