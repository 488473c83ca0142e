package main

import (
	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

func (a *app) envCommand() *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "env --profile NAME",
		Short: "Print shell export lines for a token",
		Long: `env prints export lines for TOKENKEEPER_TOKEN, TOKENKEEPER_HEADER_NAME,
TOKENKEEPER_HEADER_VALUE and TOKENKEEPER_EXPIRES_AT, quoted for POSIX shells.
On failure stdout stays empty, so eval does nothing.`,
		Example: `  eval "$(tokenkeeper env --profile sddc --min-validity 30m)"
  curl -H "$TOKENKEEPER_HEADER_NAME: $TOKENKEEPER_HEADER_VALUE" https://sddc/v1/domains`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if f.profile, err = a.defaultProfile(f.profile); err != nil {
				return err
			}
			t, err := a.token(cmd.Context(), f)
			if err != nil {
				return err
			}
			return exec.WriteToken(a.env.Stdout, a.document(t), exec.FormatEnv)
		},
	}
	f.register(cmd, false)
	a.completeProfiles(cmd)
	return cmd
}
