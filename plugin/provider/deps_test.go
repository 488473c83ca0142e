package provider

import (
	"slices"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// TestProvidersKnowNoKeeper: the providers speak to their upstream and
// know nothing of the keeper that drives them, the agent's server, its
// protocol or go-plugin (DESIGN, STYLE): what the keeper must know of a
// failure is a provider sentinel or type.
func TestProvidersKnowNoKeeper(t *testing.T) {
	deps := testutil.Deps(t, 5, "./...")
	const mod = "github.com/tokenkeeper/tokenkeeper/"
	// plugin itself, not what lies below it: the providers are under it.
	if slices.Contains(deps, mod+"plugin") {
		t.Errorf("plugin/provider/... depends on %s", mod+"plugin")
	}
	for _, d := range testutil.Linked(deps, []string{mod + "plugin/keeper", mod + "proto", "github.com/hashicorp/go-plugin"}) {
		t.Errorf("plugin/provider/... depends on %s", d)
	}
}
