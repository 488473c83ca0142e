package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) logoutCommand() *cobra.Command {
	var profile string
	cmd := &cobra.Command{
		Use:   "logout --profile NAME",
		Short: "Revoke a profile's tokens upstream and forget them",
		Long: `logout asks the agent to revoke the profile upstream (VCF: the refresh token;
VCD: the session) and forget its state. With no agent running nothing is
held, and it says so.`,
		Example: `  tokenkeeper logout --profile sddc`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if profile, err = a.defaultProfile(profile); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			c, err := a.dialRunning(ctx)
			if err != nil {
				return err
			}
			if c == nil {
				fmt.Fprintln(a.env.Stderr, "tokenkeeper: no agent is running; nothing to revoke")
				return nil
			}
			defer c.Close()
			if err := c.Revoke(ctx, profile); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stderr, "tokenkeeper: profile %q logged out\n", profile)
			return nil
		},
	}
	cmd.Flags().StringVarP(&profile, "profile", "p", "", "profile name")
	a.completeProfiles(cmd)
	return cmd
}
