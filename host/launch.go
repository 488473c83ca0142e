package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// EnvConfig names the environment variable that carries the profiles file
// path to the plugin (the same variable the CLI honours).
const EnvConfig = "TOKENKEEPER_CONFIG"

// LaunchOptions configure a plugin child.
type LaunchOptions struct {
	// Path of the tokenkeeper binary; empty means "tokenkeeper" on $PATH.
	Path string
	// ConfigPath of the profiles file; empty leaves the plugin to its
	// default ($TOKENKEEPER_CONFIG, then the XDG location).
	ConfigPath string
	// Logger receives the plugin's log lines (go-plugin forwards the hclog
	// JSON the plugin writes on stderr). Nil means warnings and errors on
	// os.Stderr.
	Logger hclog.Logger
	// Env is added to this process's environment for the child, e.g.
	// "VCF_PASSWORD=…" for an {env: …} secret reference, or
	// "TOKENKEEPER_LOG_LEVEL=debug".
	Env []string
	// Stderr, if set, also receives the plugin's raw stderr.
	Stderr io.Writer
	// StartTimeout bounds the start and handshake; zero means 30 s or the
	// context's deadline, whichever is sooner.
	StartTimeout time.Duration
}

// Launch starts the tokenkeeper binary as a go-plugin child (gRPC only, with
// automatic mutual TLS over a unix socket) and returns a Client talking to
// it. Close the Client to stop the child; the child revokes its tokens on
// the way out.
func Launch(ctx context.Context, o LaunchOptions) (*Client, error) {
	path := o.Path
	if path == "" {
		var err error
		if path, err = exec.LookPath("tokenkeeper"); err != nil {
			return nil, fmt.Errorf("could not find the tokenkeeper binary: %w", err)
		}
	}
	logger := o.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "tokenkeeper", Level: hclog.Warn, Output: os.Stderr})
	}
	cmd := exec.Command(path)
	cmd.Env = childEnv(os.Environ(), o)
	pc := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		Plugins:          wire.PluginSet(),
		Cmd:              cmd,
		SkipHostEnv:      true, // childEnv already holds it, with our overrides last
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          false,
		Logger:           logger,
		Stderr:           o.Stderr,
		StartTimeout:     startTimeout(ctx, o.StartTimeout),
	})
	c, err := connect(ctx, pc)
	if err != nil {
		pc.Kill()
		return nil, err
	}
	return c, nil
}

func connect(ctx context.Context, pc *goplugin.Client) (*Client, error) {
	rpc, err := pc.Client()
	if err != nil {
		return nil, fmt.Errorf("could not start the tokenkeeper plugin: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("could not start the tokenkeeper plugin: %w", err)
	}
	if _, err := rpc.Dispense(wire.PluginName); err != nil {
		return nil, fmt.Errorf("could not dispense the tokenkeeper plugin: %w", err)
	}
	gc, ok := rpc.(*goplugin.GRPCClient)
	if !ok {
		return nil, errors.New("could not start the tokenkeeper plugin: it did not negotiate gRPC")
	}
	return NewClient(gc.Conn, func() error { pc.Kill(); return nil }), nil
}

// childEnv is this process's environment with o.Env and the config path
// appended; exec keeps the last value of a duplicated name, so ours win.
func childEnv(base []string, o LaunchOptions) []string {
	env := make([]string, 0, len(base)+len(o.Env)+1)
	for _, kv := range base {
		// A stray cookie in our own environment must not leak a different
		// value into the child; go-plugin adds the right one.
		if strings.HasPrefix(kv, wire.Handshake.MagicCookieKey+"=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, o.Env...)
	if o.ConfigPath != "" {
		env = append(env, EnvConfig+"="+o.ConfigPath)
	}
	return env
}

func startTimeout(ctx context.Context, d time.Duration) time.Duration {
	if d <= 0 {
		d = 30 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(dl), time.Millisecond))
	}
	return d
}
