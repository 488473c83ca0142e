// Command tokenkeeper-vault is tokenkeeper's Vault secrets engine as an
// external Vault plugin: register it in Vault's plugin catalog
// (vault plugin register -sha256=… secret tokenkeeper-vault) and mount it
// (vault secrets enable -path=tokenkeeper tokenkeeper-vault). Vault
// starts it; run by hand it only says so.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/plugin"

	"github.com/tokenkeeper/tokenkeeper/host/vault/engine"
)

func main() {
	// Vault passes the catalog entry's args (vault plugin register -args=…).
	flags := flag.NewFlagSet("tokenkeeper-vault", flag.ContinueOnError)
	level := flags.String("log-level", "info", "log level: trace, debug, info, warn or error (no level logs a secret)")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.LevelFromString(*level), Output: os.Stderr, JSONFormat: true})
	// Multiplexed: one process serves every mount of the engine on a node.
	err := plugin.ServeMultiplex(&plugin.ServeOpts{BackendFactoryFunc: engine.Factory, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenkeeper-vault:", err)
		os.Exit(1)
	}
}
