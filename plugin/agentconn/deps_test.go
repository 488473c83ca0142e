package agentconn

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStaysLeaf: package host and the lean front binary link this
// package; it must speak no gRPC or protobuf, pull in neither the agent
// server, the keeper, the configuration nor the TokenService, and no
// go-plugin, YAML or CLI library.
func TestStaysLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	forbidden := []string{
		"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto",
		"github.com/hashicorp/go-plugin", "go.yaml.in/yaml", "gopkg.in/yaml.v3", "github.com/spf13/cobra",
		"github.com/tokenkeeper/tokenkeeper/plugin/agent", "github.com/tokenkeeper/tokenkeeper/plugin/keeper",
		"github.com/tokenkeeper/tokenkeeper/plugin/config", "github.com/tokenkeeper/tokenkeeper/plugin/wire",
		"github.com/tokenkeeper/tokenkeeper/proto",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("package agentconn depends on %s", d)
			}
		}
	}
	if len(deps) < 5 {
		t.Fatalf("go list returned %d packages: the check proves nothing", len(deps))
	}
}
