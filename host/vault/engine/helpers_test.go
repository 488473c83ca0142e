package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"

	simvcd "github.com/tokenkeeper/tokenkeeper/internal/sim/vcd"
	simvcf "github.com/tokenkeeper/tokenkeeper/internal/sim/vcf"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// Canary secrets: each must never come back from a read, a list, a
// status or an error, nor appear in the engine's logs.
const (
	canaryPassword = "Canary-Pass-7f3a91"
	wrongPassword  = "Wrong-Pass-c0ffee42"
	canarySA       = "canarySAtoken0123456789abcdef"
)

// testMount is where the tests' requests say the engine is mounted.
const testMount = "tokenkeeper/"

// testEngine is one engine over a storage that outlives it: a second
// engine over the same storage is the engine after a restart or a
// failover.
type testEngine struct {
	t     testing.TB
	b     *backend
	store logical.Storage
	logs  *testutil.SyncBuffer
}

func newEngine(t testing.TB, store logical.Storage) *testEngine {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	conf := logical.TestBackendConfig()
	conf.StorageView = store
	conf.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace, JSONFormat: true})
	b, err := Factory(context.Background(), conf)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEngine{t: t, b: b.(*backend), store: store, logs: logs}
	t.Cleanup(func() { e.b.Cleanup(context.Background()) })
	return e
}

func (e *testEngine) do(op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.b.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Data: data, Storage: e.store, MountPoint: testMount})
}

func (e *testEngine) write(path string, data map[string]any) {
	e.t.Helper()
	if _, err := e.do(logical.UpdateOperation, path, data); err != nil {
		e.t.Fatalf("write %s: %v", path, err)
	}
}

func (e *testEngine) token(name string) (map[string]any, error) {
	resp, err := e.do(logical.ReadOperation, "token/"+name, nil)
	if err != nil {
		return nil, err
	}
	return resp.Data, nil
}

// vcfSim serves a simulated SDDC Manager with user svc (canaryPassword).
func vcfSim(t testing.TB, ttl time.Duration) (*simvcf.Server, string) {
	t.Helper()
	s, err := simvcf.New(simvcf.Options{
		Users:     map[string]simvcf.User{"svc@vsphere.local": {Password: canaryPassword}},
		AccessTTL: ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// vcdSim serves a simulated Cloud Director with one service account.
func vcdSim(t *testing.T) (*simvcd.Backend, string) {
	t.Helper()
	s, err := simvcd.New(simvcd.Options{
		ServiceAccounts: []simvcd.Grant{{Token: canarySA, Owner: "robot@ExampleOrg"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func vcfProfile(url, password string) map[string]any {
	return map[string]any{"provider": "vcf", "url": url, "username": "svc@vsphere.local", "password": password}
}

// accepted reports whether the simulator's protected resource takes the
// header a token read returned.
func accepted(t *testing.T, url, path string, data map[string]any) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+path, nil)
	req.Header.Set(data["header_name"].(string), data["header_value"].(string))
	req.Header.Set("Accept", "application/json;version=37.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// assertNoCanary fails when any form of a canary (as is, upper or lower
// case, or an 8-character piece of it) appears in what.
func assertNoCanary(t *testing.T, where, what string, canaries ...string) {
	t.Helper()
	low := strings.ToLower(what)
	for _, c := range canaries {
		c = strings.ToLower(c)
		for i := 0; i+8 <= len(c); i += 4 {
			if strings.Contains(low, c[i:i+8]) {
				t.Fatalf("%s echoes part of a secret (%d bytes checked)", where, len(what))
			}
		}
	}
}
