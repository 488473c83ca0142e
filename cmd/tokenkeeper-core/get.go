package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// tokenFlags are the flags of every verb that obtains a token.
type tokenFlags struct {
	profile      string
	minValidity  time.Duration
	forceRefresh bool
	allowShorter bool
	noAgent      bool
	timeout      time.Duration
	verbose      bool
}

func (f *tokenFlags) register(cmd *cobra.Command, withForce bool) {
	cmd.Flags().StringVarP(&f.profile, "profile", "p", "", "profile name from the configuration file")
	cmd.Flags().DurationVar(&f.minValidity, "min-validity", 0, "the token must stay valid at least this long (e.g. 10m)")
	if withForce {
		cmd.Flags().BoolVar(&f.forceRefresh, "force-refresh", false, "go upstream even if the cached token qualifies")
	}
	cmd.Flags().BoolVar(&f.allowShorter, "allow-shorter", false,
		"while upstream is unavailable, accept the cached token even if it expires before --min-validity (the Token document then says shorterThanRequested)")
	cmd.Flags().BoolVar(&f.noAgent, "no-agent", false,
		"log in in this process, without the agent (VCF: the refresh token is revoked at once)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false,
		"print a line on stderr per upstream retry while waiting (the default on a terminal)")
}

// token obtains the token the flags ask for.
func (a *app) token(ctx context.Context, f tokenFlags) (tok *host.Token, err error) {
	defer func() { a.warnShorter(tok, f) }()
	if f.minValidity < 0 {
		return nil, usageError("--min-validity must not be negative")
	}
	if a.env.OneCall != nil {
		a.env.OneCall()
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	o := host.TokenOptions{MinValidity: f.minValidity, ForceRefresh: f.forceRefresh, AllowShorter: f.allowShorter}
	svc, err := a.connect(ctx, f.noAgent)
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	if !f.verbose && !a.env.StderrTerminal {
		return svc.Token(ctx, f.profile, o)
	}
	stop := progress{src: svc, profile: f.profile, w: a.env.Stderr,
		quiet: progressQuiet, every: progressEvery}.watch(ctx)
	t, err := svc.Token(ctx, f.profile, o)
	stop()
	return t, err
}

// warnShorter says on stderr that a token served under --allow-shorter
// expires before the min validity asked (exec.WarnShorter).
func (a *app) warnShorter(t *host.Token, f tokenFlags) {
	if t != nil {
		exec.WarnShorter(a.env.Stderr, f.profile, host.Document(t, "", ""), f.minValidity)
	}
}

func (a *app) getCommand() *cobra.Command {
	var f tokenFlags
	var format string
	cmd := &cobra.Command{
		Use:   "get [--profile NAME] [--min-validity D] [--force-refresh] [--allow-shorter] [--format json|token|header|env]",
		Short: "Print a valid token (the exec credential protocol)",
		Long: `get prints a token valid for at least --min-validity: the Token document
(--format json, the default), the bare token (token), "Name: value"
(header) or shell export lines (env). Without --profile it reads one JSON
TokenRequest from stdin, unless $TOKENKEEPER_PROFILE is set and stdin is a
terminal or empty. It asks the agent, starting one when none runs;
--no-agent logs in in this process instead.

On failure stdout holds one JSON Error document (json), or nothing (token,
header, env), and stderr one line. Exit codes: 0 ok, 1 internal, 2 usage or
configuration, 3 credentials rejected or lockout guard, 4 permission
denied, 5 upstream unavailable (retryable).

Reference (documents, --allow-shorter, progress lines, exit codes):
docs/exec-protocol.md in the tokenkeeper repository.`,
		Example: `  tokenkeeper get --profile sddc
  curl -H "$(tokenkeeper get --profile sddc --min-validity 10m --format header)" https://sddc/v1/domains
  echo '{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":"10m"}' | tokenkeeper get`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !exec.ValidFormat(format) {
				return usageError("--format must be one of json, token, header, env; got %q", format)
			}
			// --timeout bounds the whole call, reading the request included.
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			if err := a.requestOrDefault(ctx, cmd, &f); err != nil {
				return err
			}
			t, err := a.token(ctx, f)
			if err != nil {
				return err
			}
			return exec.WriteToken(a.env.Stdout, a.document(t), format)
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVarP(&format, "format", "o", exec.FormatJSON, "output: json, token, header or env")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(exec.Formats, cobra.ShellCompDirectiveNoFileComp))
	a.completeProfiles(cmd)
	return cmd
}

// input is what get and invalidate read their request from.
func (a *app) input(cmd *cobra.Command, timeout time.Duration) exec.Input {
	return exec.Input{Set: cmd.Flags().Changed, EnvProfile: a.env.Getenv(exec.EnvProfile),
		Stdin: a.env.Stdin, StdinTerminal: a.env.StdinTerminal, Timeout: timeout}
}

// defaultProfile is p, else $TOKENKEEPER_PROFILE (exec.DefaultProfile).
func (a *app) defaultProfile(p string) (string, error) {
	return exec.DefaultProfile(p, a.env.Getenv(exec.EnvProfile))
}

// requestOrDefault fills f for get from the request exec.ResolveGet
// finds: the flags, or the JSON request on stdin.
func (a *app) requestOrDefault(ctx context.Context, cmd *cobra.Command, f *tokenFlags) error {
	req, fromStdin, err := exec.ResolveGet(ctx, a.input(cmd, f.timeout), f.profile)
	if err != nil {
		return err
	}
	f.profile = req.Profile
	if fromStdin {
		f.minValidity, f.forceRefresh = time.Duration(req.MinValidity), req.ForceRefresh
		f.allowShorter = req.AllowShorter
	}
	return nil
}

// completeProfiles completes --profile from the configuration file.
func (a *app) completeProfiles(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("profile", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, err := a.loadConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return cfg.Names(), cobra.ShellCompDirectiveNoFileComp
	})
}
