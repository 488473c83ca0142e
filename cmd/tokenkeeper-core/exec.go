package main

import (
	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

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
			var err error
			if f.profile, err = a.defaultProfile(f.profile); err != nil {
				return err
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

// run runs argv with env and the CLI's stdio (exec.Run).
func (a *app) run(argv, env []string) (int, error) {
	return exec.Run(argv, env, exec.Stdio{In: a.env.Stdin, Out: a.env.Stdout, ErrOut: a.env.Stderr})
}
