package host

import (
	"slices"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// TestHostStaysThin: every Go host (and the Packer plugin) links package
// host; it must not pull in the keeper, the providers, the configuration
// loader or their dependencies (JWT, YAML). The shared contract lives in
// the leaves plugin/wire and plugin/paths. The auth proxy (host/proxy)
// translates over host the same way: what it needs of a provider or of
// the agent, the CLI hands it.
func TestHostStaysThin(t *testing.T) {
	deps := testutil.Deps(t, 10, ".", "./proxy")
	// The server package itself; the leaves below it (wire, paths,
	// agentconn) are host's to use.
	const server = "github.com/tokenkeeper/tokenkeeper/plugin"
	if slices.Contains(deps, server) {
		t.Errorf("package host or host/proxy depends on %s", server)
	}
	forbidden := []string{
		"github.com/tokenkeeper/tokenkeeper/plugin/keeper",
		"github.com/tokenkeeper/tokenkeeper/plugin/provider",
		"github.com/tokenkeeper/tokenkeeper/plugin/config",
		"github.com/tokenkeeper/tokenkeeper/plugin/agent",
		"github.com/tokenkeeper/tokenkeeper/plugin/vault",
		"github.com/hashicorp/vault/api",
		"github.com/golang-jwt/jwt/v5",
		"go.yaml.in/yaml/v3",
	}
	for _, d := range testutil.Linked(deps, forbidden) {
		t.Errorf("package host or host/proxy depends on %s", d)
	}
}
