package agentconn

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStaysLeaf: package host links this package; it must speak no gRPC
// and pull in neither the agent, the keeper nor the configuration.
func TestStaysLeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, f := range []string{"google.golang.org/grpc", "github.com/tokenkeeper/tokenkeeper/plugin/agent",
			"github.com/tokenkeeper/tokenkeeper/plugin/keeper", "github.com/tokenkeeper/tokenkeeper/plugin/config"} {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("package agentconn depends on %s", d)
			}
		}
	}
	if len(deps) < 5 {
		t.Fatalf("go list returned %d packages: the check proves nothing", len(deps))
	}
}
