package vcenter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
)

// tkSim is a running tokenkeeper-sim vcenter.
type tkSim struct{ url, caFile string }

// startSim runs `tokenkeeper-sim vcenter --tls` with the suite's user
// and the extra args.
func startSim(t *testing.T, args ...string) tkSim {
	t.Helper()
	bin := binary(t, "TK_CONFORMANCE_SIM", filepath.Join("..", "..", "..", "bin", "tokenkeeper-sim"))
	ca := filepath.Join(t.TempDir(), "ca.pem")
	argv := append([]string{bin, "vcenter", "--tls", "--listen", "127.0.0.1:0", "--ca-out", ca,
		"--user", vcUser + "=" + vcPassword}, args...)
	var ready struct{ URL, CAFile string }
	if err := json.Unmarshal([]byte(startProcess(t, `"url"`, argv...)), &ready); err != nil || ready.URL == "" {
		t.Fatalf("no ready line from the simulator: %v", err)
	}
	return tkSim{url: ready.URL, caFile: ready.CAFile}
}

// restClient is govmomi's vSphere Automation REST client for the
// simulator, trusting its CA only.
func (s tkSim) restClient(t *testing.T) *rest.Client {
	t.Helper()
	u, err := url.Parse(s.url + "/sdk")
	if err != nil {
		t.Fatal(err)
	}
	sc := soap.NewClient(u, false)
	if err := sc.SetRootCAs(s.caFile); err != nil {
		t.Fatal(err)
	}
	return rest.NewClient(&vim25.Client{Client: sc})
}

// vm is the part of an inventory entry the suite reads.
type vm struct {
	VM         string `json:"vm"`
	Name       string `json:"name"`
	PowerState string `json:"power_state"`
}

// The /rest generation as govmomi speaks it: Login (POST
// /rest/com/vmware/cis/session with vmware-use-header-authn), Session
// (POST ?~action=get), a {value}-wrapped resource, Logout, and a 401
// that Session reports as no session; a wrong password is a 401. On the
// legacy simulator /api/session is 404, as vcsim answers.
func TestRESTClientLegacyGeneration(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{{"8.0.3", nil}, {"legacy-rest", []string{"--legacy-rest"}}, {"6.7", []string{"--api-version", "6.7"}}} {
		t.Run(tt.name, func(t *testing.T) {
			s := startSim(t, tt.args...)
			ctx := context.Background()
			c := s.restClient(t)
			if err := c.Login(ctx, url.UserPassword(vcUser, vcPassword+"-wrong")); !rest.IsStatusError(err, http.StatusUnauthorized) {
				t.Fatalf("login with a wrong password: %v, want 401", err)
			}
			if err := c.Login(ctx, url.UserPassword(vcUser, vcPassword)); err != nil || c.SessionID() == "" {
				t.Fatalf("login: %v", err)
			}
			info, err := c.Session(ctx)
			if err != nil || info == nil || info.User != vcUser || info.Created.IsZero() || info.LastAccessed.IsZero() {
				t.Fatalf("session: %+v, %v", info, err)
			}
			var vms []vm
			if err := c.Do(ctx, c.Resource("/vcenter/vm").Request(http.MethodGet), &vms); err != nil || len(vms) == 0 || vms[0].VM == "" {
				t.Fatalf("GET /rest/vcenter/vm: %+v, %v", vms, err)
			}
			if err := c.Logout(ctx); err != nil {
				t.Fatalf("logout: %v", err)
			}
			if info, err := c.Session(ctx); info != nil || err != nil {
				t.Fatalf("session after logout: %+v, %v; want none", info, err)
			}
			_, hasAPI := apiLogin(ctx, t, c)
			if hasAPI != (tt.args == nil) {
				t.Fatalf("POST /api/session found: %v", hasAPI)
			}
		})
	}
}

// apiLogin logs in at POST /api/session through govmomi's client; false
// when the server has no such endpoint (404).
func apiLogin(ctx context.Context, t *testing.T, c *rest.Client) (string, bool) {
	t.Helper()
	req := c.Resource("/api/session").Request(http.MethodPost)
	req.SetBasicAuth(vcUser, vcPassword)
	var id string
	err := c.Do(ctx, req, &id)
	if rest.IsStatusError(err, http.StatusNotFound) {
		return "", false
	}
	if err != nil || id == "" {
		t.Fatalf("POST /api/session: %v", err)
	}
	return id, true
}

// The /api generation through govmomi's client: POST /api/session
// answers the id as a bare JSON string (Do decodes /api answers
// unwrapped), GET /api/session and GET /api/vcenter/vm accept it, DELETE
// ends it, and then it gets 401.
func TestRESTClientAPIGeneration(t *testing.T) {
	for _, version := range []string{"7.0.2", "8.0.3"} {
		t.Run(version, func(t *testing.T) {
			s := startSim(t, "--api-version", version)
			ctx := context.Background()
			c := s.restClient(t)
			id, ok := apiLogin(ctx, t, c)
			if !ok {
				t.Fatal("no /api/session")
			}
			c.SessionID(id)
			var info rest.Session
			if err := c.Do(ctx, c.Resource("/api/session").Request(http.MethodGet), &info); err != nil || info.User != vcUser {
				t.Fatalf("GET /api/session: %+v, %v", info, err)
			}
			var vms []vm
			if err := c.Do(ctx, c.Resource("/api/vcenter/vm").Request(http.MethodGet), &vms); err != nil || len(vms) == 0 || vms[0].PowerState == "" {
				t.Fatalf("GET /api/vcenter/vm: %+v, %v", vms, err)
			}
			if err := c.Do(ctx, c.Resource("/api/session").Request(http.MethodDelete), nil); err != nil {
				t.Fatalf("DELETE /api/session: %v", err)
			}
			err := c.Do(ctx, c.Resource("/api/vcenter/vm").Request(http.MethodGet), &vms)
			if !rest.IsStatusError(err, http.StatusUnauthorized) {
				t.Fatalf("after logout: %v, want 401", err)
			}
		})
	}
}

// A session tokenkeeper got from the simulator serves govmomi's client as
// its own, on both generations: the header value is the bare id.
func TestTokenkeeperSessionInGovmomi(t *testing.T) {
	for _, args := range [][]string{nil, {"--legacy-rest"}} {
		s := startSim(t, args...)
		k := newTK(t, s.url, s.caFile, vcPassword)
		tok := k.get()
		c := s.restClient(t)
		c.SessionID(tok.Header.Value)
		path := "/api/vcenter/vm"
		if len(args) > 0 {
			path = "/vcenter/vm"
		}
		var vms []vm
		if err := c.Do(context.Background(), c.Resource(path).Request(http.MethodGet), &vms); err != nil || len(vms) == 0 {
			t.Fatalf("%v: govmomi with tokenkeeper's session: %v", args, err)
		}
		k.stop()
		if info, err := c.Session(context.Background()); info != nil || err != nil {
			t.Fatalf("%v: the session outlived agent stop: %+v %v", args, info, err)
		}
	}
}
