// Command tokenkeeper is the tokenkeeper people, scripts, Ansible, CI and
// go-plugin hosts run. It is small on purpose (TestFrontStaysLean): it
// links no gRPC, protobuf, go-plugin, YAML or cobra, so that the calls on
// every pipeline's path start as fast as a C helper would. Everything it
// does not serve itself — every other verb, help and completion, plugin
// mode, a configuration no agent has served yet — it hands in place
// (syscall.Exec: the same pid, stdio, environment and arguments) to the
// full CLI, tokenkeeper-core, installed beside it. The agent it starts
// is the core too.
package main

import (
	"context"
	"io"
	"os"
	"syscall"

	_ "github.com/tokenkeeper/tokenkeeper/internal/platform" // Linux and macOS only
)

func main() {
	os.Exit(run(context.Background(), osFront()))
}

// front is every edge of the process the front touches, so that it runs
// in-process in tests (the composition-root style of cmd/tokenkeeper-core).
type front struct {
	// Args is the command line, the program name first (os.Args).
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StdinTerminal, StderrTerminal: the stream is a terminal.
	StdinTerminal, StderrTerminal bool
	Getenv                        func(string) string
	// Environ is the environment, for the core and exec's command.
	Environ []string
	// Executable is this binary (os.Executable, asked only when the
	// core is needed): the core is found beside it.
	Executable func() (string, error)
	// Exec replaces this process with another program (syscall.Exec).
	Exec func(path string, argv, env []string) error
}

// osFront is the real process (on the heap: see ask).
func osFront() *front {
	return &front{Args: os.Args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		StdinTerminal: isTerminal(os.Stdin), StderrTerminal: isTerminal(os.Stderr),
		Getenv: os.Getenv, Environ: os.Environ(), Executable: os.Executable, Exec: syscall.Exec}
}

// pluginCookieKey is the variable by which a go-plugin host launches the
// binary in plugin mode (wire.Handshake.MagicCookieKey; plugin/wire links
// go-plugin, so the front names it here and a test holds both equal).
const pluginCookieKey = "TOKENKEEPER_PLUGIN"

// run serves the command line or hands it to the core, and returns the
// exit status when it does not exec. Plugin mode is decided before
// anything else, as the core does: nothing but go-plugin's handshake may
// reach stdout then, and the core speaks it.
func run(ctx context.Context, f *front) int {
	if f.Getenv(pluginCookieKey) != "" {
		return f.delegate(f.Args)
	}
	c, ok := parse(f.Args[1:])
	// A terminal on stderr: a person waits, and the core shows progress
	// lines. Any --timeout is the front's: agentconn.Call sends what is
	// left of it, and the agent answers before it with the cause, as it
	// does over gRPC.
	if !ok || f.StderrTerminal {
		return f.delegate(f.Args)
	}
	return f.serve(ctx, c)
}
