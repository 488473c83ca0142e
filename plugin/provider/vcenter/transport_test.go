package vcenter

import (
	"context"
	"net/http"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/host"
	simvc "github.com/tokenkeeper/tokenkeeper/internal/sim/vcenter"
	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
)

// host.Transport over the keeper with this provider, unchanged: it sends
// the vmware-api-session-id header the token names, and a 401 (the
// server dropped every session) is one invalidation, one new login and
// one retry, invisible to the caller.
func TestHostTransport(t *testing.T) {
	s := newSim(t, simvc.Options{})
	p := newProvider(t, s.srv.URL)
	k, err := keeper.New([]keeper.ProfileSpec{{Name: "vc", Provider: "vcenter", URL: s.srv.URL, Impl: p}}, keeper.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	c := &http.Client{Transport: &host.Transport{Source: host.NewClient(plugin.InProcess(k, nil), nil), Profile: "vc"}}
	get := func() int {
		t.Helper()
		resp, err := c.Get(s.srv.URL + "/api/vcenter/vm")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("first call: %d", code)
	}
	if err := s.b.Expire("sessions"); err != nil {
		t.Fatal(err)
	}
	if code := get(); code != 200 {
		t.Fatalf("after the server dropped the session: %d", code)
	}
	if st := s.b.Stats(); st.Logins != 2 || st.Unauthorized != 1 || st.APICalls != 3 {
		t.Fatalf("simulator %+v: want 2 logins, the one 401 retried", st)
	}
}
