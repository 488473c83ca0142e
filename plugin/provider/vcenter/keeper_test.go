package vcenter

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	simvc "github.com/tokenkeeper/tokenkeeper/internal/sim/vcenter"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// handlerTransport serves requests in-process, so that the simulator and
// the keeper share a synctest bubble's clock.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// The keeper with this provider, on both generations: a session quiet
// for longer than its idle timeout is probed before hand-out, found dead
// and replaced by one login, without an error reaching the caller; a
// caller asking for a validity longer than the idle timeout gets a
// session the keepalive holds alive for that long, with no new login;
// teardown logs it out.
func TestKeeperIdleRecoveryAndKeepalive(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "api", true: "rest"}[legacy], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { idleAndKeepalive(t, legacy) })
		})
	}
}

func idleAndKeepalive(t *testing.T, legacy bool) {
	const idle = 2 * time.Minute
	b, err := simvc.New(simvc.Options{Clock: sim.SystemClock{}, IdleTimeout: idle, LegacyREST: legacy,
		Users: []simvc.User{{Name: canaryUser, Password: canaryPassword}}})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: handlerTransport{sim.NewHandler(b)}}
	const url = "https://vcenter.test"
	p := newProvider(t, url, func(c *Config) { c.HTTPClient, c.IdleTimeout = client, idle })
	k, err := keeper.New([]keeper.ProfileSpec{{Name: "vc", Provider: "vcenter", URL: url, Impl: p}}, keeper.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	works := func(tok keeper.Token) {
		t.Helper()
		path := "/rest/vcenter/vm"
		if !legacy {
			path = "/api/vcenter/vm"
		}
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		req.Header.Set(tok.HeaderName, tok.HeaderValue.Reveal())
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("the handed-out session does not work: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	first, err := k.Get(ctx, "vc", keeper.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	works(first)
	time.Sleep(2 * idle) // the server ends the session; the keeper probes before the next hand-out
	second, err := k.Get(ctx, "vc", keeper.GetOptions{})
	if err != nil {
		t.Fatalf("after the idle timeout: %v", err)
	}
	if second.Fingerprint == first.Fingerprint {
		t.Fatal("an idled-out session was handed out again")
	}
	works(second)
	if _, err := k.Get(ctx, "vc", keeper.GetOptions{MinValidity: 10 * time.Minute}); err != nil {
		t.Fatalf("min validity beyond the idle timeout: %v", err)
	}
	time.Sleep(10 * time.Minute) // nobody uses it but the keepalive
	third, err := k.Get(ctx, "vc", keeper.GetOptions{})
	if err != nil || third.Fingerprint != second.Fingerprint {
		t.Fatalf("the kept-alive session was not handed out: %v", err)
	}
	works(third)
	if st := b.Stats(); st.Logins != 2 || st.LoginFailures != 0 {
		t.Fatalf("simulator %+v, want 2 logins", st)
	}
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Revocations != 1 || st.ActiveSessions != 0 {
		t.Fatalf("after Close: %+v", st)
	}
}

// A 400 answer to a login reached the server: it is not NotSent, and
// the keeper's lockout guard counts it, so the next Get is refused
// without a second request.
func TestKeeperCountsBadRequestLogin(t *testing.T) {
	var logins atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		logins.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error_type":"INVALID_ARGUMENT","messages":[]}`))
	}))
	defer srv.Close()
	p := newProvider(t, srv.URL)
	k, err := keeper.New([]keeper.ProfileSpec{{Name: "vc", Provider: "vcenter", URL: srv.URL, Impl: p}}, keeper.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close(context.Background())
	ctx := context.Background()
	_, err = k.Get(ctx, "vc", keeper.GetOptions{})
	if err == nil || errors.Is(err, provider.ErrNotSent) || !errors.Is(err, provider.ErrProtocol) {
		t.Fatalf("400 login: %v, want a sent ErrProtocol", err)
	}
	_, err = k.Get(ctx, "vc", keeper.GetOptions{})
	var ge *keeper.GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("second Get after a 400 login: %v, want the lockout guard's refusal", err)
	}
	if n := logins.Load(); n != 1 {
		t.Fatalf("%d logins sent, want 1", n)
	}
}
