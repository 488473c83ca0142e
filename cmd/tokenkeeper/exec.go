package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	osexec "os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// forwarded are the signals `tokenkeeper exec` passes on to its command,
// so that Ctrl-C, a CI runner's SIGTERM or a SIGHUP reach the real work.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2}

func (a *app) execCommand() *cobra.Command {
	var f tokenFlags
	var px proxySpec
	var withProxy bool
	cmd := &cobra.Command{
		Use:   "exec --profile NAME [--min-validity D] -- COMMAND [ARG…]",
		Short: "Run a command with a fresh token in its environment",
		Long: `exec obtains a token valid for at least --min-validity and runs COMMAND with
TOKENKEEPER_TOKEN, TOKENKEEPER_HEADER_NAME, TOKENKEEPER_HEADER_VALUE and
TOKENKEEPER_EXPIRES_AT in its environment; stdio and signals are the
command's, and so is the exit status (128+N when killed by signal N). When
no token can be had the command does not run and the exit code is get's
(1-5); a COMMAND not found is 127, not executable 126.

Reference: docs/exec-protocol.md in the tokenkeeper repository.`,
		Example: `  tokenkeeper exec --profile sddc -- sh -c 'curl -sH "$TOKENKEEPER_HEADER_NAME: $TOKENKEEPER_HEADER_VALUE" https://sddc/v1/domains'
  tokenkeeper exec --profile vcd --min-validity 1h -- ansible-playbook site.yml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("exec runs a command, and none was given: " +
					"tokenkeeper exec --profile NAME [--min-validity D] -- COMMAND [ARG…]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.profile = a.defaultProfile(f.profile); f.profile == "" {
				return errProfileRequired
			}
			if withProxy {
				return a.execProxy(cmd.Context(), f, px, args)
			}
			t, err := a.token(cmd.Context(), f)
			if err != nil {
				return err
			}
			env := append(append([]string{}, a.env.Environ...), exec.EnvVars(a.document(t))...)
			code, err := a.run(args, env)
			a.exitCode = code
			return err
		},
	}
	// Flags after COMMAND belong to COMMAND.
	cmd.Flags().SetInterspersed(false)
	f.register(cmd, false)
	cmd.Flags().BoolVar(&withProxy, "proxy", false,
		"serve a proxy (see tokenkeeper proxy) for COMMAND's lifetime instead of passing a token: $"+envProxyURL+", $"+envProxySocket)
	cmd.Flags().StringVar(&px.listen, "proxy-listen", "", "with --proxy: unix:PATH or 127.0.0.1:PORT (default: a fresh unix socket)")
	cmd.Flags().DurationVar(&px.timeout, "proxy-timeout", defaultProxyTimeout, "with --proxy: as proxy --timeout")
	a.completeProfiles(cmd)
	return cmd
}

// Exit statuses of exec when the command cannot run (POSIX shells, env(1)).
const (
	exitNotExecutable = 126
	exitNotFound      = 127
)

// startError is a command that could not start: 127 when it does not
// exist, 126 when it exists but cannot be executed.
func startError(prog string, err error) error {
	status, what := exitNotExecutable, "cannot be executed"
	if errors.Is(err, osexec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		status, what = exitNotFound, "command not found"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		what += ": " + pe.Err.Error()
	}
	return &statusError{status: status, msg: fmt.Sprintf("could not run %s: %s", prog, what), err: err}
}

// run starts argv with env and the CLI's stdio, forwards signals while it
// runs, and returns its exit status.
func (a *app) run(argv, env []string) (int, error) {
	c := osexec.Command(argv[0], argv[1:]...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = a.env.Stdin, a.env.Stdout, a.env.Stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return 0, startError(argv[0], err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = c.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := c.Wait()
	var ee *osexec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, fmt.Errorf("could not wait for %s: %w", argv[0], err)
}
