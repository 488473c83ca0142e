package host

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHostStaysThin: every Go host (and the Packer plugin) links package
// host; it must not pull in the keeper, the providers, the configuration
// loader or their dependencies (JWT, YAML). The shared contract lives in
// the leaves plugin/wire and plugin/paths. The auth proxy (host/proxy)
// translates over host the same way: what it needs of a provider or of
// the agent, the CLI hands it.
func TestHostStaysThin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".", "./proxy").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/tokenkeeper/tokenkeeper/plugin", // the server package itself
		"github.com/tokenkeeper/tokenkeeper/plugin/keeper",
		"github.com/tokenkeeper/tokenkeeper/plugin/provider",
		"github.com/tokenkeeper/tokenkeeper/plugin/config",
		"github.com/tokenkeeper/tokenkeeper/plugin/agent",
		"github.com/tokenkeeper/tokenkeeper/plugin/vault",
		"github.com/hashicorp/vault/api",
		"github.com/golang-jwt/jwt/v5",
		"go.yaml.in/yaml/v3",
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || (f != "github.com/tokenkeeper/tokenkeeper/plugin" && strings.HasPrefix(d, f+"/")) {
				t.Errorf("package host or host/proxy depends on %s", d)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages: the check proves nothing", len(deps))
	}
}
