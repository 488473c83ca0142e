// Package plugin serves the tokenkeeper TokenService: the gRPC adapter over
// the keeper, and the go-plugin glue (handshake, plugin set, Serve) that
// lets a Go host launch the tokenkeeper binary as a plugin.
package plugin

import (
	"context"
	"os"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

// GRPCPlugin is the go-plugin binding of the TokenService. On the plugin
// side Service must be set; on the host side the zero value is enough.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	// Service answers the calls (plugin side only).
	Service Service
	// Logger receives per-call debug lines (plugin side only).
	Logger hclog.Logger
}

// GRPCServer registers the TokenService on the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	Register(s, p.Service, p.Logger)
	return nil
}

// GRPCClient returns a tokenkeeperv1.TokenServiceClient on the connection.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return tokenkeeperv1.NewTokenServiceClient(cc), nil
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
