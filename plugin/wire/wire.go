// Package wire is the contract between the tokenkeeper plugin and its hosts
// that is not in the proto file: the go-plugin handshake and plugin name,
// and the google.rpc.ErrorInfo domain and reasons of its errors. It is a
// leaf: it imports neither the keeper nor the providers nor the
// configuration, so a host (package host, the Packer plugin) links only
// what it speaks.
package wire

import (
	"context"
	"errors"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

// PluginName is the name the TokenService is dispensed under.
const PluginName = "tokens"

// Handshake is shared by the plugin and its hosts. ProtocolVersion changes
// only with an incompatible change of the gRPC contract. The magic cookie is
// not a secret: it only tells a person running the binary by hand apart from
// a host launching it.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "TOKENKEEPER_PLUGIN",
	MagicCookieValue: "7f3c9b1e-tokens-a64d2e58c0b94f17",
}

// ErrorDomain is the google.rpc.ErrorInfo domain of tokenkeeper errors.
const ErrorDomain = "tokenkeeper.v1"

// ErrorInfo reasons attached to FailedPrecondition, the one code with two
// meanings here. Hosts tell them apart by reason, never by message.
const (
	// ReasonLockoutGuard: the login was not attempted because the
	// credential was rejected recently; metadata "retry_at" (RFC 3339)
	// says when the keeper will try again, and a RetryInfo detail carries
	// the delay.
	ReasonLockoutGuard = "LOCKOUT_GUARD"
	// ReasonBadConfig: the profile cannot work as configured (TLS
	// verification, no common API version, malformed URL, a secret that
	// cannot be read). Fix the configuration; retrying changes nothing.
	ReasonBadConfig = "BAD_CONFIG"
)

// ErrorInfo returns the tokenkeeper ErrorInfo detail of st, or nil when it
// carries none (details of other domains are ignored).
func ErrorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return info
		}
	}
	return nil
}

// Reason is the reason of st's tokenkeeper ErrorInfo, or "".
func Reason(st *status.Status) string { return ErrorInfo(st).GetReason() }

// PluginSet returns the plugin set a host passes to goplugin.ClientConfig:
// the TokenService under PluginName, client side only.
func PluginSet() goplugin.PluginSet {
	return goplugin.PluginSet{PluginName: &ClientPlugin{}}
}

// ClientPlugin is the host half of the go-plugin binding of the
// TokenService; the plugin half (package plugin) also serves it.
type ClientPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

// GRPCServer refuses: a host does not serve the TokenService.
func (ClientPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the tokenkeeper TokenService is served by package plugin, not by a host")
}

// GRPCClient returns a tokenkeeperv1.TokenServiceClient on the connection.
func (ClientPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return tokenkeeperv1.NewTokenServiceClient(cc), nil
}
