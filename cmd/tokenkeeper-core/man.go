//go:build manpages

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/tokenkeeper/tokenkeeper/internal/version"
)

// toolCommands are the build-only commands: a binary built with
// `-tags manpages` (tools/release/assets.sh) has the hidden `man DIR`; the
// shipped one does not link cobra/doc and its markdown and YAML libraries.
func (a *app) toolCommands(root *cobra.Command) []*cobra.Command {
	return []*cobra.Command{a.manCommand(root)}
}

// manCommand is the hidden `man DIR`, which writes a section-1 man page
// for tokenkeeper and each of its commands into DIR: the release packages
// install them (see .goreleaser.yaml). The pages are made from the same
// cobra help as --help, so they never drift from it.
func (a *app) manCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return fmt.Errorf("could not create the man page directory: %w", err)
			}
			root.DisableAutoGenTag = true
			header := &doc.GenManHeader{
				Title:   "TOKENKEEPER",
				Section: "1",
				Source:  "tokenkeeper " + version.String(),
				Manual:  "tokenkeeper manual",
			}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("could not write the man pages: %w", err)
			}
			return nil
		},
	}
}
