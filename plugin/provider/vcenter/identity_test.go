package vcenter

import (
	"context"
	"testing"

	simvc "github.com/tokenkeeper/tokenkeeper/internal/sim/vcenter"
)

// The grant names the session's user, from the session info of either
// generation; vCenter does not expose the session's roles there, so none.
func TestLoginNamesUser(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		s := newSim(t, simvc.Options{LegacyREST: legacy})
		g, err := newProvider(t, s.srv.URL).Login(context.Background())
		if err != nil {
			t.Fatalf("legacy %v: login: %v", legacy, err)
		}
		if g.Principal != canaryUser || len(g.Roles) != 0 {
			t.Fatalf("legacy %v: principal %q roles %v, want %q and none", legacy, g.Principal, g.Roles, canaryUser)
		}
	}
}
