package agentconn

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// TestStaysLeaf: package host and the lean front binary link this
// package; it must speak no gRPC or protobuf, pull in neither the agent
// server, the keeper, the configuration nor the TokenService, and no
// go-plugin, YAML or CLI library.
func TestStaysLeaf(t *testing.T) {
	deps := testutil.Deps(t, 5, ".")
	forbidden := []string{
		"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto",
		"github.com/hashicorp/go-plugin", "go.yaml.in/yaml", "gopkg.in/yaml.v3", "github.com/spf13/cobra",
		"github.com/tokenkeeper/tokenkeeper/plugin/agent", "github.com/tokenkeeper/tokenkeeper/plugin/keeper",
		"github.com/tokenkeeper/tokenkeeper/plugin/config", "github.com/tokenkeeper/tokenkeeper/plugin/wire",
		"github.com/tokenkeeper/tokenkeeper/proto",
	}
	for _, d := range testutil.Linked(deps, forbidden) {
		t.Errorf("package agentconn depends on %s", d)
	}
}

// TestNoNet: the package itself imports no package net (its callers'
// gRPC needs are met by Connect's socket), so that the front links net
// only where something it needs does.
func TestNoNet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(out))
	if len(imports) < 5 {
		t.Fatalf("go list returned %d imports: the check proves nothing", len(imports))
	}
	for _, d := range testutil.Linked(imports, []string{"net"}) {
		t.Errorf("package agentconn imports %s", d)
	}
}
