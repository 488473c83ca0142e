// Package plugin serves the tokenkeeper TokenService: the gRPC adapter over
// the keeper, and the go-plugin glue (handshake, plugin set, Serve) that
// lets a Go host launch the tokenkeeper binary as a plugin.
package plugin

import (
	"os"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// GRPCPlugin is the go-plugin binding of the TokenService on the plugin
// side: Service answers the calls. Its host half is wire.ClientPlugin's,
// the one binding hosts use.
type GRPCPlugin struct {
	wire.ClientPlugin
	// Service answers the calls.
	Service Service
	// Logger receives per-call debug lines.
	Logger hclog.Logger
}

// GRPCServer registers the TokenService on the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	Register(s, p.Service, p.Logger)
	return nil
}

// Serve serves svc as a go-plugin plugin on this process: gRPC only, with
// automatic mutual TLS when the host asks for it (go-plugin's AutoMTLS), and
// logger — which must write hclog JSON to stderr, see NewLogger — for
// everything go-plugin itself logs. The handshake line is the only thing
// written to stdout. Serve returns when the host asks the plugin to shut
// down (goplugin.Client.Kill); the caller then revokes what it holds.
func Serve(svc Service, logger hclog.Logger) {
	if logger == nil {
		logger = NewLogger(hclog.Info, os.Stderr)
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		Plugins: goplugin.PluginSet{
			wire.PluginName: &GRPCPlugin{Service: svc, Logger: logger.Named("server")},
		},
		GRPCServer: goplugin.DefaultGRPCServer,
		Logger:     logger,
	})
}

// NewLogger returns the logger of plugin mode: hclog JSON on w (stderr),
// which go-plugin parses and forwards to the host's logger line by line.
func NewLogger(level hclog.Level, w interface{ Write([]byte) (int, error) }) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "tokenkeeper",
		Level:      level,
		Output:     w,
		JSONFormat: true,
	})
}
