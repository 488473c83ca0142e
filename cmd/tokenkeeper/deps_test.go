package main

import (
	"os/exec"
	"strings"
	"testing"

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
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, p := range leanProblems(deps) {
		t.Error(p)
	}
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages: the check proves nothing", len(deps))
	}
}

// TestLeanCheckCatchesCore: the same check over the core's dependencies
// names each forbidden family, so it can fail.
func TestLeanCheckCatchesCore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "../tokenkeeper-core").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	problems := strings.Join(leanProblems(strings.Fields(string(out))), "\n")
	for _, want := range []string{"google.golang.org/grpc", "google.golang.org/protobuf", "github.com/hashicorp/go-plugin",
		"go.yaml.in/yaml", "github.com/spf13/cobra"} {
		if !strings.Contains(problems, "links "+want) {
			t.Errorf("the check misses %s in the core", want)
		}
	}
}

func leanProblems(deps []string) []string {
	var problems []string
	for _, d := range deps {
		for _, f := range leanForbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				problems = append(problems, "the front links "+d)
			}
		}
	}
	return problems
}

// TestPluginCookieKey: the front recognises plugin mode by the variable
// go-plugin hosts set (wire.Handshake).
func TestPluginCookieKey(t *testing.T) {
	if pluginCookieKey != wire.Handshake.MagicCookieKey {
		t.Fatalf("pluginCookieKey %q, the handshake's %q", pluginCookieKey, wire.Handshake.MagicCookieKey)
	}
}
