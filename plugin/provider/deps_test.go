package provider

import (
	"os/exec"
	"strings"
	"testing"
)

// TestProvidersKnowNoKeeper: the providers speak to their upstream and
// know nothing of the keeper that drives them, the agent's server, its
// protocol or go-plugin (DESIGN, STYLE): what the keeper must know of a
// failure is a provider sentinel or type.
func TestProvidersKnowNoKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	const mod = "github.com/tokenkeeper/tokenkeeper/"
	exact := []string{mod + "plugin"}
	prefixes := []string{mod + "plugin/keeper", mod + "proto", "github.com/hashicorp/go-plugin"}
	for _, d := range deps {
		for _, f := range exact {
			if d == f {
				t.Errorf("plugin/provider/... depends on %s", d)
			}
		}
		for _, f := range prefixes {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("plugin/provider/... depends on %s", d)
			}
		}
	}
	if len(deps) < 5 {
		t.Fatalf("go list returned %d packages: the check proves nothing", len(deps))
	}
}
