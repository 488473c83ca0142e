package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// TestFleetReadsOneLogin: many concurrent readers of token/<name> cost
// one upstream login, and every token they get is accepted upstream.
func TestFleetReadsOneLogin(t *testing.T) {
	s, url := vcfSim(t, time.Hour)
	e := newEngine(t, &logical.InmemStorage{})
	e.write("profiles/sddc", vcfProfile(url, canaryPassword))

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	tokens := make(chan map[string]any, 200)
	for range 200 {
		wg.Go(func() {
			d, err := e.token("sddc")
			if err != nil {
				errs <- err
				return
			}
			tokens <- d
		})
	}
	wg.Wait()
	close(errs)
	close(tokens)
	for err := range errs {
		t.Fatal(err)
	}
	var first map[string]any
	for d := range tokens {
		if first == nil {
			first = d
		}
		if d["fingerprint"] != first["fingerprint"] {
			t.Fatal("readers got different tokens")
		}
	}
	if st := s.Stats(); st.Logins != 1 {
		t.Fatalf("logins = %d, want 1", st.Logins)
	}
	if !accepted(t, url, "/v1/domains", first) {
		t.Fatal("the simulator refused the token")
	}
	if ttl := first["ttl"].(int64); ttl < 3000 || ttl > 3600 {
		t.Fatalf("ttl = %d, want the token's remaining life", ttl)
	}
	if first["header_name"] != "Authorization" || !strings.HasPrefix(first["header_value"].(string), "Bearer ") {
		t.Fatalf("header %v", first["header_name"])
	}
}

// TestSecretsWriteOnly: no read, list or status returns a login secret,
// and the engine never logs one, even at trace level.
func TestSecretsWriteOnly(t *testing.T) {
	_, url := vcfSim(t, time.Hour)
	e := newEngine(t, &logical.InmemStorage{})
	e.write("profiles/sddc", vcfProfile(url, canaryPassword))
	if _, err := e.token("sddc"); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, r := range []struct {
		op   logical.Operation
		path string
	}{
		{logical.ReadOperation, "profiles/sddc"}, {logical.ListOperation, "profiles/"},
		{logical.ReadOperation, "status/sddc"}, {logical.ReadOperation, "status"},
	} {
		resp, err := e.do(r.op, r.path, nil)
		if err != nil {
			t.Fatalf("%s: %v", r.path, err)
		}
		j, _ := json.Marshal(resp)
		out.Write(j)
	}
	if !strings.Contains(out.String(), `"credential":"password"`) {
		t.Fatal("the profile read does not say which secret is set")
	}
	assertNoCanary(t, "reads", out.String(), canaryPassword)
	assertNoCanary(t, "engine logs", e.logs.String(), canaryPassword)
}

// TestWrongPasswordOneFailure: many readers with a wrong password make
// one failed login; the next ones are refused by the guard without an
// upstream call, and a corrected password is tried at once.
func TestWrongPasswordOneFailure(t *testing.T) {
	s, url := vcfSim(t, time.Hour)
	e := newEngine(t, &logical.InmemStorage{})
	e.write("profiles/sddc", vcfProfile(url, wrongPassword))
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { _, _ = e.token("sddc") })
	}
	wg.Wait()
	_, err := e.token("sddc")
	var coded logical.HTTPCodedError
	if !errors.As(err, &coded) || coded.Code() != http.StatusLocked || !strings.Contains(err.Error(), "LOCKOUT_GUARD retry_at=") {
		t.Fatalf("guard refusal: %v", err)
	}
	if st := s.Stats(); st.LoginFailures != 1 {
		t.Fatalf("failed logins = %d, want 1", st.LoginFailures)
	}
	assertNoCanary(t, "error", err.Error(), wrongPassword)
	assertNoCanary(t, "engine logs", e.logs.String(), wrongPassword)

	e.write("profiles/sddc", map[string]any{"password": canaryPassword})
	if _, err := e.token("sddc"); err != nil {
		t.Fatalf("corrected password: %v", err)
	}
	if st := s.Stats(); st.Logins != 1 || st.LoginFailures != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestGuardRefusalNamesEngineRemedy: the engine's guard is in the
// mount's storage, so its refusal (HTTP 423) names what fixes it there —
// a new secret written to profiles/<name> — and not the local `tokenkeeper
// guard reset`, which does nothing for it.
func TestGuardRefusalNamesEngineRemedy(t *testing.T) {
	_, url := vcfSim(t, time.Hour)
	e := newEngine(t, &logical.InmemStorage{})
	e.write("profiles/sddc", vcfProfile(url, wrongPassword))
	if _, err := e.token("sddc"); err == nil {
		t.Fatal("wrong password accepted")
	}
	_, err := e.token("sddc")
	var coded logical.HTTPCodedError
	if !errors.As(err, &coded) || coded.Code() != http.StatusLocked {
		t.Fatalf("guard refusal: %v, want HTTP 423", err)
	}
	namesRemedy(t, err, "vault write "+testMount+"profiles/sddc password=-")
}

// namesRemedy fails t unless err names the engine's remedy want and not
// the local `tokenkeeper guard reset`, which does not reach the engine.
func namesRemedy(t *testing.T, err error, want string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Fatalf("error %q does not name %q", msg, want)
	}
	if strings.Contains(msg, "guard reset") {
		t.Fatalf("error %q names the local reset", msg)
	}
}

// TestCorruptGuardNamesEngineRemedy: a corrupt guard entry fails closed
// (no login) and names the way out in Vault, not the local
// `tokenkeeper guard reset --all`.
func TestCorruptGuardNamesEngineRemedy(t *testing.T) {
	s, url := vcfSim(t, time.Hour)
	store := &logical.InmemStorage{}
	e := newEngine(t, store)
	e.write("profiles/sddc", vcfProfile(url, canaryPassword))
	if err := store.Put(context.Background(), &logical.StorageEntry{Key: guardPrefix + "guard.json", Value: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	_, err := e.token("sddc")
	if err == nil {
		t.Fatal("login attempted over a corrupt guard")
	}
	namesRemedy(t, err, "vault delete sys/raw/logical/<uuid>/guard/guard.json")
	if st := s.Stats(); st.Logins != 0 || st.LoginFailures != 0 {
		t.Fatalf("stats %+v, want no login", st)
	}
}

// TestGuardSurvivesRestart: the guard's record is in the engine's
// storage, so an engine started over it (a plugin restart, a failover)
// does not spend the account's budget again on the same wrong password.
func TestGuardSurvivesRestart(t *testing.T) {
	s, url := vcfSim(t, time.Hour)
	store := &logical.InmemStorage{}
	first := newEngine(t, store)
	first.write("profiles/sddc", vcfProfile(url, wrongPassword))
	if _, err := first.token("sddc"); err == nil {
		t.Fatal("wrong password accepted")
	}
	first.b.Cleanup(context.Background())

	second := newEngine(t, store)
	if _, err := second.token("sddc"); err == nil || !strings.Contains(err.Error(), "LOCKOUT_GUARD") {
		t.Fatalf("after restart: %v", err)
	}
	if st := s.Stats(); st.LoginFailures != 1 {
		t.Fatalf("failed logins = %d, want 1", st.LoginFailures)
	}
}

// TestRotatedServiceAccountStored: the service-account token the server
// rotates is in the engine's storage before the access token is handed
// out, so an engine started over that storage logs in with it (the old
// one no longer works).
func TestRotatedServiceAccountStored(t *testing.T) {
	s, url := vcdSim(t)
	store := &logical.InmemStorage{}
	first := newEngine(t, store)
	first.write("profiles/robot", map[string]any{
		"provider": "vcd", "url": url, "org": "ExampleOrg", "service_account": canarySA,
	})
	d, err := first.token("robot")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := loadSecret(context.Background(), store, "robot")
	if err != nil || stored.Reveal() == canarySA {
		t.Fatalf("the rotated token is not stored (err %v)", err)
	}
	if !accepted(t, url, "/cloudapi/1.0.0/orgs", d) {
		t.Fatal("the simulator refused the token")
	}
	first.b.Cleanup(context.Background())

	second := newEngine(t, store)
	if _, err := second.token("robot"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if st := s.Stats(); st.LoginFailures != 0 || st.Logins != 2 {
		t.Fatalf("stats %+v, want 2 exchanges and no failure", st)
	}
	assertNoCanary(t, "engine logs", first.logs.String()+second.logs.String(), canarySA, stored.Reveal())
}

// TestInvalidateIfCurrent: invalidating the current token forces one new
// one; a stale fingerprint changes nothing.
func TestInvalidateIfCurrent(t *testing.T) {
	s, url := vcfSim(t, time.Hour)
	e := newEngine(t, &logical.InmemStorage{})
	e.write("profiles/sddc", vcfProfile(url, canaryPassword))
	d, err := e.token("sddc")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		resp, err := e.do(logical.UpdateOperation, "invalidate/sddc", map[string]any{"fingerprint": d["fingerprint"]})
		if err != nil || resp.Data["invalidated"] != want {
			t.Fatalf("invalidate %d: %v %v", i, resp, err)
		}
		if _, err := e.token("sddc"); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Logins+st.Refreshes != 2 {
		t.Fatalf("stats %+v, want one new token", st)
	}
}

// TestTeardownRevokes: deleting a profile and the backend's cleanup
// revoke upstream what the engine holds.
func TestTeardownRevokes(t *testing.T) {
	s, url := vcfSim(t, time.Hour)
	e := newEngine(t, &logical.InmemStorage{})
	for _, n := range []string{"a", "b"} {
		e.write("profiles/"+n, vcfProfile(url, canaryPassword))
		if _, err := e.token(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.do(logical.DeleteOperation, "profiles/a", nil); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Revocations != 1 {
		t.Fatalf("after delete: %+v", st)
	}
	if _, err := e.token("a"); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("deleted profile: %v", err)
	}
	e.b.Cleanup(context.Background())
	if st := s.Stats(); st.Revocations != 2 || st.ActiveSessions != 0 {
		t.Fatalf("after cleanup: %+v", st)
	}
}

// TestProfileValidation: a profile that could not log in as written is
// refused with 400, naming what is wrong.
func TestProfileValidation(t *testing.T) {
	e := newEngine(t, &logical.InmemStorage{})
	for _, c := range []struct {
		data map[string]any
		want string
	}{
		{map[string]any{"provider": "vcf", "url": "https://x", "username": "u"}, "login secret is required"},
		{map[string]any{"provider": "vcf", "url": "https://x", "api_token": "t"}, "takes one of"},
		{map[string]any{"provider": "vcd", "url": "https://x", "password": "p", "api_token": "t"}, "one login secret"},
		{map[string]any{"provider": "vcd", "url": "https://x", "api_token": "t"}, "org is required"},
		{map[string]any{"provider": "vcf", "url": "https://x", "username": "u", "password": "p", "ca_pem": "junk"}, "PEM"},
	} {
		_, err := e.do(logical.UpdateOperation, "profiles/p", c.data)
		var coded logical.HTTPCodedError
		if !errors.As(err, &coded) || coded.Code() != http.StatusBadRequest || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v", c.data, err)
		}
	}
	if resp, _ := e.do(logical.ReadOperation, "profiles/p", nil); resp != nil {
		t.Fatalf("a refused profile was stored: %v", resp.Data)
	}
}

var _ = fmt.Sprint
