package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

func (a *app) invalidateCommand() *cobra.Command {
	var profile, fingerprint, reason string
	var noAgent bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "invalidate [--profile NAME --fingerprint F [--reason TEXT]]",
		Short: "Report that a token got a 401, so the next get refreshes",
		Long: `invalidate drops the cached token of a profile if, and only if, it is still the
one with this fingerprint: many callers reporting the same rejected token cause
one refresh. Without --profile it reads one JSON InvalidateRequest from stdin.
It prints nothing on success; failures are reported like get's.`,
		Example: `  tokenkeeper invalidate --profile sddc --fingerprint sha256:1f2e3d4c5b6a7988 --reason "401 from GET /v1/domains"
  echo '{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"sddc","fingerprint":"sha256:1f2e3d4c5b6a7988"}' | tokenkeeper invalidate`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := exec.ResolveInvalidate(ctx, a.input(cmd, timeout),
				exec.InvalidateRequest{Profile: profile, Fingerprint: fingerprint, Reason: reason})
			if err != nil {
				return err
			}
			if noAgent {
				return nil // nothing is cached outside the agent
			}
			c, err := a.dialRunning(ctx)
			if err != nil || c == nil {
				return err // no agent: nothing cached, nothing to drop
			}
			defer c.Close()
			return c.Invalidate(ctx, req.Profile, req.Fingerprint, req.Reason)
		},
	}
	cmd.Flags().StringVarP(&profile, "profile", "p", "", "profile name")
	cmd.Flags().StringVar(&fingerprint, "fingerprint", "", "fingerprint of the rejected token (from get's output)")
	cmd.Flags().StringVar(&reason, "reason", "", "free text for the agent's log, e.g. the failed request")
	cmd.Flags().BoolVar(&noAgent, "no-agent", false, "accepted for symmetry with get; there is nothing to invalidate")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long, reading the request included")
	a.completeProfiles(cmd)
	return cmd
}
