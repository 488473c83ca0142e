package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

func (a *app) configCheckCommand() *cobra.Command {
	var online bool
	var timeout, each time.Duration
	cmd := &cobra.Command{
		Use:   "check [--online]",
		Short: "Validate every profile; --online also logs in and revokes",
		Long: `check parses the profiles file strictly and reports every problem, one per
line (FILE:LINE:COLUMN: …), then checks each secret reference without
running anything. Warnings go to stderr; values are never printed. Exit 2
when there is a problem, 0 otherwise.

With --online it also logs in to each profile in this process (not through
the agent), checks the token and revokes it at once; the exit code is that
of the most severe failure (1, 3, 4, 2, then 5).

Reference (keys, secret references, permissions): docs/configuration.md in
the tokenkeeper repository.`,
		Example: `  tokenkeeper config check
  tokenkeeper config check --online --config ./lab.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return perLine(err)
			}
			fmt.Fprintf(a.env.Stdout, "%s: %s, syntax ok\n", cfg.Path, plural(len(cfg.Profiles), "profile"))
			a.printWarnings(cfg)
			problems := a.checkOffline(cmd.Context(), cfg)
			if !online {
				return problemsError(problems)
			}
			for _, p := range problems {
				fmt.Fprintf(a.env.Stderr, "tokenkeeper: %s\n", p)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			online := mostSevere(a.checkVaultOnline(ctx, cfg), a.checkOnline(ctx, cfg.Names(), each))
			return mostSevere(problemsError(problems), online)
		},
	}
	cmd.Flags().BoolVar(&online, "online", false, "log in to every profile and revoke at once")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	cmd.Flags().DurationVar(&each, "profile-timeout", 10*time.Second, "with --online: give up on one profile after this long")
	return cmd
}

// perLine turns the joined errors of the profiles file into a message with
// a count and one problem per line.
func perLine(err error) error {
	var e *exec.Error
	if !errors.As(err, &e) {
		return err
	}
	j, ok := e.Err.(interface{ Unwrap() []error })
	if !ok || len(j.Unwrap()) < 2 {
		return err
	}
	lines := make([]string, 0, len(j.Unwrap()))
	for _, p := range j.Unwrap() {
		lines = append(lines, p.Error())
	}
	return &exec.Error{Code: e.Code, Err: e.Err,
		Message: fmt.Sprintf("%s in the profiles file:\n%s", plural(len(lines), "problem"), strings.Join(lines, "\n"))}
}

// plural is "1 profile", "2 profiles".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printWarnings writes the configuration's warnings on stderr, one a line.
func (a *app) printWarnings(cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(a.env.Stderr, "warning: %s\n", w)
	}
}

// checkOffline checks every secret reference as far as it can without
// running a command, printing warnings on stderr; it returns the problems
// that will make a profile fail, one line each.
func (a *app) checkOffline(ctx context.Context, cfg *config.Config) []string {
	lookup := lookupIn(a.env.Environ)
	var problems []string
	for _, n := range cfg.Names() {
		p := cfg.Profiles[n]
		if p.Provider == config.ProviderVault {
			problems = append(problems, a.checkEngineOffline(ctx, cfg, p, lookup)...)
		}
		for _, r := range profileRefs(p) {
			var warn bool
			var err error
			if r.ref.Vault != nil {
				warn, err = checkVaultOffline(ctx, vaultConfig(cfg, r.ref.Vault.Conn, a.env.Getenv), lookup)
			} else {
				warn, err = checkRef(ctx, r.ref, r.field == "service_account", lookup)
			}
			if err == nil {
				continue
			}
			line := (&config.Error{File: cfg.Path, Line: p.Line, Profile: n, Field: r.field, Msg: err.Error()}).Error()
			if warn {
				fmt.Fprintf(a.env.Stderr, "warning: %s\n", line)
				continue
			}
			problems = append(problems, line)
		}
	}
	return problems
}

// checkEngineOffline checks, without contacting Vault, the connection a
// profile of provider vault reads the engine with, as checkVaultOffline
// does a reference's: a problem line, or a warning on stderr for what
// the agent's environment may supply.
func (a *app) checkEngineOffline(ctx context.Context, cfg *config.Config, p *config.Profile, lookup func(string) (string, bool)) []string {
	_, vc := engineConn(cfg, p, a.env.Getenv)
	warn, err := checkVaultOffline(ctx, vc, lookup)
	if err == nil {
		return nil
	}
	line := (&config.Error{File: cfg.Path, Line: p.Line, Profile: p.Name, Field: "vault", Msg: err.Error()}).Error()
	if warn {
		fmt.Fprintf(a.env.Stderr, "warning: %s\n", line)
		return nil
	}
	return []string{line}
}

// problemsError is the error of offline problems, nil for none.
func problemsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return &exec.Error{Code: exec.CodeBadConfig,
		Message: fmt.Sprintf("%s with secret references:\n%s", plural(len(problems), "problem"), strings.Join(problems, "\n"))}
}

type namedRef struct {
	field string
	ref   *secret.Ref
}

func profileRefs(p *config.Profile) []namedRef {
	var out []namedRef
	for _, r := range []namedRef{{"password", p.Password}, {"api_key", p.APIKey}, {"api_token", p.APIToken},
		{"service_account", p.ServiceAccount}} {
		if r.ref != nil {
			out = append(out, r)
		}
	}
	return out
}

// checkRef checks one reference. An environment variable missing here is
// only a warning (warn true): the agent may run with another environment.
// Env and file references are resolved and the value dropped at once;
// a command is only looked up, never run.
func checkRef(ctx context.Context, r *secret.Ref, rewritten bool, lookup func(string) (string, bool)) (warn bool, err error) {
	if len(r.Command) > 0 {
		return false, checkProgram(r.Command[0])
	}
	if _, err := r.ResolveWith(ctx, lookup); err != nil {
		return r.Env != "" && (errors.Is(err, secret.ErrNotFound) || errors.Is(err, secret.ErrEmpty)), err
	}
	if rewritten {
		// Everything a rotation checks before it spends the token: a
		// mount point, an immutable file, a full or read-only disk.
		return false, r.CheckStore()
	}
	return false, nil
}

// checkProgram finds a command reference's program as exec would: a path
// must be an executable file, a bare name must be found on PATH; and a
// program given by path must pass the same trust check as at run time.
func checkProgram(prog string) error {
	if _, err := osexec.LookPath(prog); err != nil {
		what := "is not found on PATH"
		if strings.ContainsRune(prog, '/') {
			what = "is not an executable file"
			if _, serr := os.Stat(prog); errors.Is(serr, os.ErrNotExist) {
				what = "does not exist"
			}
		}
		return fmt.Errorf("secret command %s: the program %s", prog, what)
	}
	if err := secret.CheckProgram(prog); err != nil {
		return fmt.Errorf("secret command %s: %w", prog, err)
	}
	return nil
}

// lookupIn looks variables up in an environment list, as the agent started
// with it would.
func lookupIn(environ []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(environ) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
				return v, true
			}
		}
		return "", false
	}
}

// checkOnline logs in to each profile and revokes, giving each at most
// each; the error carries the most severe failure's code.
func (a *app) checkOnline(ctx context.Context, names []string, each time.Duration) error {
	l, err := a.inProcess(false)
	if err != nil {
		return err
	}
	defer l.Close()
	var worst *exec.Error
	failed := 0
	for _, n := range names {
		t, err := a.checkProfile(ctx, l, n, each)
		if err != nil {
			e := a.classify(err)
			fmt.Fprintf(a.env.Stdout, "%s: FAILED (%s): %s\n", n, e.Code, exec.OneLine(e.Message))
			worst = mostSevereOf(worst, e)
			failed++
			continue
		}
		if t.Provider == config.ProviderVault {
			// The engine holds the upstream session: nothing to revoke.
			fmt.Fprintf(a.env.Stdout, "%s: ok: read from the Vault engine (token valid %s)\n",
				n, time.Until(t.ExpiresAt).Round(time.Second))
			continue
		}
		fmt.Fprintf(a.env.Stdout, "%s: ok: logged in %s (%s token valid %s), revoked\n",
			n, whoText(t), t.Provider, time.Until(t.ExpiresAt).Round(time.Second))
		if w := roleWarning(a.cfg.Profiles[n], t); w != "" {
			fmt.Fprintf(a.env.Stderr, "warning: %s\n", w)
		}
	}
	if worst != nil {
		return &exec.Error{Code: worst.Code, Message: fmt.Sprintf("%d of %d profiles failed the online check", failed, len(names))}
	}
	return nil
}

// checkProfile logs in to one profile and revokes within each, printing
// the upstream retries on stderr meanwhile.
func (a *app) checkProfile(ctx context.Context, l *host.Client, name string, each time.Duration) (*host.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, each)
	defer cancel()
	stop := progress{src: l, profile: name, w: a.env.Stderr,
		quiet: progressQuiet, every: progressEvery}.watch(ctx)
	defer stop()
	t, err := l.Token(ctx, name, host.TokenOptions{})
	if err != nil {
		return nil, err
	}
	return t, l.Revoke(ctx, name)
}

// severity orders exit codes for a check with several failures: a bug
// first, then what a person must fix before anything works (rejected
// credentials, missing rights, configuration), and a retryable outage
// last, so that exit 5 means "all of it may pass on a retry".
var severity = map[int]int{
	exec.ExitInternal: 5, exec.ExitRejected: 4, exec.ExitForbidden: 3, exec.ExitUsage: 2, exec.ExitUnavailable: 1,
}

func mostSevereOf(a, b *exec.Error) *exec.Error {
	if a == nil || severity[b.Code.ExitCode()] > severity[a.Code.ExitCode()] {
		return b
	}
	return a
}

// mostSevere combines the offline and the online verdicts: the online
// one's message, the more severe code.
func mostSevere(offline, online error) error {
	if offline == nil || online == nil {
		if online != nil {
			return online
		}
		return offline
	}
	var off *exec.Error
	if !errors.As(offline, &off) {
		return offline
	}
	on := classify(online)
	w := mostSevereOf(on, off)
	return &exec.Error{Code: w.Code, Message: on.Message, Err: online}
}
