package vcf

import (
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

var _ keeper.Detacher = (*Provider)(nil)

// Detach deletes the refresh token and leaves the access token working.
func TestDetach(t *testing.T) {
	l := newLab(t, nil)
	p := l.provider(adminUser, adminPass)
	ctx := t.Context()
	g, err := p.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Detach(ctx, g); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	if last := l.seen.last(); last.method != "DELETE" || last.path != pathRevoke || last.body != g.Refresh.Reveal() {
		t.Fatalf("Detach sent %s %s", last.method, last.path)
	}
	if got := l.domains("GET", g); got != 200 {
		t.Errorf("the access token stopped working after Detach: %d", got)
	}
	if _, err := p.Refresh(ctx, g); err == nil {
		t.Fatal("the refresh token still works after Detach")
	} else {
		perr(t, err, provider.ErrRefreshRejected)
	}
	if err := p.Detach(ctx, g); err != nil {
		t.Errorf("Detach of a gone refresh token: %v", err)
	}
	if st := l.sim.Stats(); st.Revocations != 1 || st.ActiveSessions != 0 {
		t.Errorf("stats %+v", st)
	}
}
