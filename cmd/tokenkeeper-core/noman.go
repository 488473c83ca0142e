//go:build !manpages

package main

import "github.com/spf13/cobra"

// toolCommands are the build-only commands; a binary built without
// `-tags manpages` has none (see man.go).
func (a *app) toolCommands(*cobra.Command) []*cobra.Command { return nil }
