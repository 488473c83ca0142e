package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the profiles file",
		Long: `config works with the profiles file: --config FILE, else $TOKENKEEPER_CONFIG,
else $XDG_CONFIG_HOME/tokenkeeper/config.yaml, else
~/.config/tokenkeeper/config.yaml.`,
		Example: `  tokenkeeper config init --profile sddc --provider vcf --url https://sddc.example.com \
      --username administrator@vsphere.local --password-env VCF_PASSWORD
  tokenkeeper config check
  tokenkeeper config check --online --config ./lab.yaml`,
		Args: unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.configCheckCommand(), a.configInitCommand())
	return cmd
}

// unknownSubcommand refuses an argument of a command that only groups
// others, with cobra's "did you mean" suggestions.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return usageError("%s", msg)
}
