// Command tokenkeeper owns the lifecycle of VMware API bearer tokens. Run by
// a person or a script it is a CLI (get, exec, agent, status, …); launched
// by a go-plugin host, recognised by the magic cookie in its environment,
// it serves the TokenService as a plugin.
package main

import (
	"context"
	"os"

	_ "github.com/tokenkeeper/tokenkeeper/internal/platform" // Linux and macOS only
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], osEnv()))
}

// run is the composition root: every process edge comes in through env so
// both modes run in-process in tests. The mode is decided before any
// argument parsing, because in plugin mode nothing but go-plugin's
// handshake may reach stdout.
func run(ctx context.Context, args []string, env cliEnv) int {
	if isPlugin(env.Getenv) {
		return runPlugin(ctx, args, env)
	}
	return runCLI(ctx, args, env)
}

// isPlugin reports whether a go-plugin host launched us. Any value of the
// cookie selects plugin mode; go-plugin then refuses a wrong one itself.
func isPlugin(getenv func(string) string) bool {
	return getenv(wire.Handshake.MagicCookieKey) != ""
}
