package main

import (
	"testing"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// leanForbidden are what the front must never link (issue 16): each
// costs package inits and page faults at every start of `tokenkeeper get`.
var leanForbidden = []string{
	"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto",
	"github.com/hashicorp/go-plugin", "github.com/hashicorp/go-hclog",
	"go.yaml.in/yaml", "gopkg.in/yaml.v2", "gopkg.in/yaml.v3", "sigs.k8s.io/yaml",
	"github.com/spf13/cobra", "github.com/spf13/pflag",
	"encoding/gob", "net/rpc", "net/http",
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper", "github.com/tokenkeeper/tokenkeeper/plugin/config",
	"github.com/tokenkeeper/tokenkeeper/plugin/agent", "github.com/tokenkeeper/tokenkeeper/plugin/wire",
	"github.com/tokenkeeper/tokenkeeper/proto",
}

// TestFrontStaysLean: the front binary links none of leanForbidden.
func TestFrontStaysLean(t *testing.T) {
	for _, d := range testutil.Linked(testutil.Deps(t, 10, "."), leanForbidden) {
		t.Errorf("the front links %s", d)
	}
}

// TestLeanCheckCatchesCore: the same check over the core's dependencies
// names each forbidden family, so it can fail.
func TestLeanCheckCatchesCore(t *testing.T) {
	linked := testutil.Linked(testutil.Deps(t, 10, "../tokenkeeper-core"), leanForbidden)
	for _, want := range []string{"google.golang.org/grpc", "google.golang.org/protobuf", "github.com/hashicorp/go-plugin",
		"go.yaml.in/yaml", "github.com/spf13/cobra"} {
		if len(testutil.Linked(linked, []string{want})) == 0 {
			t.Errorf("the check misses %s in the core", want)
		}
	}
}

// TestPluginCookieKey: the front recognises plugin mode by the variable
// go-plugin hosts set (wire.Handshake).
func TestPluginCookieKey(t *testing.T) {
	if pluginCookieKey != wire.Handshake.MagicCookieKey {
		t.Fatalf("pluginCookieKey %q, the handshake's %q", pluginCookieKey, wire.Handshake.MagicCookieKey)
	}
}
