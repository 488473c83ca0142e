package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/internal/version"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
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

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and plugin protocol version",
		Long: `version prints the release, the commit it was built from (when known), the
go-plugin protocol version of the gRPC TokenService (hosts and plugins must
agree on it), and the Go version and platform. tokenkeeper --version prints
the same.`,
		Example: `  tokenkeeper version
  tokenkeeper --version`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error { return a.printVersion() },
	}
}

func (a *app) printVersion() error {
	_, err := io.WriteString(a.env.Stdout, versionText())
	return err
}

// versionText is the output of `version` and `--version`; the release
// and commit are stamped at link time (package version).
func versionText() string {
	return fmt.Sprintf("tokenkeeper %s\ncommit: %s\nplugin protocol: %d\ngo: %s %s/%s\n", version.String(), version.CommitString(),
		wire.Handshake.ProtocolVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// shells are the shells cobra writes completion scripts for.
var shells = []string{"bash", "zsh", "fish", "powershell"}

// completionCommand adds cobra's completion command with examples, and
// makes an unsupported shell a usage error instead of help and status 0.
func (a *app) completionCommand(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = `  source <(tokenkeeper completion bash)
  tokenkeeper completion zsh > "${fpath[1]}/_tokenkeeper"
  tokenkeeper completion fish > ~/.config/fish/completions/tokenkeeper.fish`
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return usageError("unsupported shell %s (%s)", args[0], strings.Join(shells, ", "))
		}
		for _, sh := range c.Commands() {
			sh.Example = "  tokenkeeper completion " + sh.Name() + " > tokenkeeper-completion." + sh.Name()
		}
	}
}
