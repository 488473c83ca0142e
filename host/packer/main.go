// SPDX-License-Identifier: Apache-2.0

// Command packer-plugin-tokenkeeper is a Packer plugin with one data source,
// `tokenkeeper`, which hands a template a valid bearer token for a tokenkeeper
// profile. It speaks Packer's plugin protocol to Packer and is a tokenkeeper
// host on the other side: it dials the tokenkeeper agent when one runs, else
// launches the tokenkeeper binary as a go-plugin child.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	_ "github.com/tokenkeeper/tokenkeeper/internal/platform" // Linux and macOS only

	"github.com/tokenkeeper/tokenkeeper/host/packer/datasource"
	"github.com/tokenkeeper/tokenkeeper/host/packer/version"
)

func main() {
	pps := plugin.NewSet()
	// The default name makes the data source `tokenkeeper` itself, after the
	// plugin, rather than `tokenkeeper-<something>`.
	pps.RegisterDatasource(plugin.DEFAULT_NAME, new(datasource.Datasource))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
