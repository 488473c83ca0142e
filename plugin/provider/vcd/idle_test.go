package vcd

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/simtest"
	simvcd "github.com/tokenkeeper/tokenkeeper/internal/sim/vcd"
)

// idleServer is a simulated Cloud Director whose sessions idle out after
// idle; it serves the given product's API versions.
func idleServer(t *testing.T, product string, idle time.Duration) *httptest.Server {
	t.Helper()
	b, err := simvcd.New(simvcd.Options{
		Clock:       simtest.NewFakeClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)),
		APIVersions: versionsOf(t, product),
		IdleTimeout: idle,
		Users: []simvcd.User{
			{Name: "alice", Org: "ExampleOrg", Password: canaryPassword, Role: "Organization Administrator"},
			{Name: "admin", Org: "System", Password: canaryPassword, Role: "System Administrator"},
		},
		APITokens:       []simvcd.Grant{{Token: canaryAPIToken, Owner: "alice@ExampleOrg"}},
		ServiceAccounts: []simvcd.Grant{{Token: canarySAToken, Owner: "robot@ExampleOrg"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.NewHandler(b))
	t.Cleanup(srv.Close)
	return srv
}

// Issue 10 case 3: the idle timeout is learned where the server reports
// it — the CloudAPI login body, else GET /cloudapi/1.0.0/sessions/current
// after a legacy login or a token exchange — and never assumed to be
// Cloud Director's default of 30 minutes. A profile's idle_timeout
// applies when it is shorter or the server cannot say; without either the
// grant says the timeout is unknown.
func TestIdleTimeoutLearned(t *testing.T) {
	tenant := Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}}
	legacy := tenant
	legacy.LegacyLogin = true
	system := Config{Org: "System", Username: "admin", Password: staticSecret{canaryPassword}}
	token := Config{Org: "ExampleOrg", APIToken: staticSecret{canaryAPIToken}}
	robot := Config{Org: "ExampleOrg", ServiceAccount: &memorySecret{v: canarySAToken}}
	withIdle := func(c Config, d time.Duration) Config { c.IdleTimeout = d; return c }
	tests := []struct {
		name    string
		product string
		cfg     Config
		want    time.Duration // 0: unknown
	}{
		{"tenant cloudapi", "10.4", tenant, 4 * time.Second},
		{"system cloudapi", "10.4", system, 4 * time.Second},
		{"legacy login", "10.4", legacy, 4 * time.Second},
		{"api token", "10.4", token, 4 * time.Second},
		{"service account", "10.4", robot, 4 * time.Second},
		{"legacy-only server", "9.7", tenant, 0},
		{"legacy-only server, profile says", "9.7", withIdle(tenant, 2*time.Minute), 2 * time.Minute},
		{"profile shorter than server", "10.4", withIdle(token, 2*time.Second), 2 * time.Second},
		{"profile longer than server", "10.4", withIdle(legacy, time.Hour), 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := idleServer(t, tt.product, 4*time.Second)
			cfg := tt.cfg
			cfg.URL, cfg.HTTPClient, cfg.Logger = srv.URL, srv.Client(), hclog.NewNullLogger()
			if m, ok := cfg.ServiceAccount.(*memorySecret); ok {
				cfg.ServiceAccount = &memorySecret{v: m.v}
			}
			p, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			g, err := p.Login(context.Background())
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if g.IdleTimeout != tt.want || g.IdleUnknown != (tt.want == 0) {
				t.Errorf("idle timeout %v (unknown %v), want %v", g.IdleTimeout, g.IdleUnknown, tt.want)
			}
		})
	}
}
