package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/internal/version"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

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
