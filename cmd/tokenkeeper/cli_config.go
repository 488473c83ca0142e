package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// buildVersion is set at link time: -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion = ""

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the profiles file",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.configCheckCommand())
	return cmd
}

func (a *app) configCheckCommand() *cobra.Command {
	var online bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check [--online]",
		Short: "Validate every profile; --online also logs in and revokes",
		Long: `check parses the profiles file strictly and reports every problem with its
line number. With --online it also logs in to each profile in this process
(not through the agent), checks the token, and revokes it at once.`,
		Example: `  tokenkeeper config check
  tokenkeeper config check --online --config ./lab.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "%s: %d profiles, syntax ok\n", cfg.Path, len(cfg.Profiles))
			if !online {
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return a.checkOnline(ctx, cfg.Names())
		},
	}
	cmd.Flags().BoolVar(&online, "online", false, "log in to every profile and revoke at once")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

// checkOnline logs in to each profile and revokes; the exit code is that of
// the first failure.
func (a *app) checkOnline(ctx context.Context, names []string) error {
	l, err := a.local(false)
	if err != nil {
		return err
	}
	var first *exec.Error
	failed := 0
	for _, n := range names {
		t, err := l.Token(ctx, n, host.TokenOptions{})
		if err == nil {
			err = l.Revoke(ctx, n)
		}
		if err != nil {
			e := classify(err)
			fmt.Fprintf(a.env.Stdout, "%s: FAILED (%s): %s\n", n, e.Code, oneLine(e.Message))
			if first == nil {
				first = e
			}
			failed++
			continue
		}
		fmt.Fprintf(a.env.Stdout, "%s: ok: logged in (%s token valid %s), revoked\n",
			n, t.Provider, t.ExpiresAt.Sub(a.env.Now()).Round(time.Second))
	}
	_ = l.Close()
	if first != nil {
		return &exec.Error{Code: first.Code, Message: fmt.Sprintf("%d of %d profiles failed the online check", failed, len(names))}
	}
	return nil
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: `  tokenkeeper version`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(a.env.Stdout, "tokenkeeper %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
