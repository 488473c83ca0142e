package main

import (
	"strings"

	"github.com/spf13/cobra"
)

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
