package vcd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// exchangeWith posts one exchange with tok straight to the simulator and
// returns the status.
func (f *fixture) exchangeWith(t *testing.T, tok string) int {
	t.Helper()
	p := f.provider(t, Config{Org: "ExampleOrg", APIToken: staticSecret{tok}})
	_, err := p.Login(context.Background())
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, provider.ErrCredentialsRejected):
		return http.StatusBadRequest
	}
	t.Fatalf("exchange: %v", err)
	return 0
}

func TestServiceAccountRotation(t *testing.T) {
	f := newFixture(t, nil)
	store := &memorySecret{v: canarySAToken}
	p := f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: store})
	ctx := context.Background()
	seen := map[string]bool{canarySAToken: true}
	for i := range 5 {
		before := store.value()
		g, err := p.Login(ctx)
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		after := store.value()
		if len(store.stores) != i+1 || after == "" || seen[after] {
			t.Fatalf("rotation %d: %d stores, new token fresh=%v", i, len(store.stores), !seen[after])
		}
		seen[after] = true
		if !g.Refresh.IsZero() {
			t.Fatal("the grant must not carry the service-account token")
		}
		if f.exchangeWith(t, before) != http.StatusBadRequest {
			t.Fatalf("rotation %d: the previous token still works", i)
		}
		if c, _ := p.Credential(ctx); !c.Equal(provider.CredentialID(after)) {
			t.Fatalf("rotation %d: Credential does not follow the stored token", i)
		}
	}
	assertNoCanary(t, f.logs.String())
	for tok := range seen {
		if bytesContains(f.logs.String(), tok) {
			t.Fatal("a rotated service-account token was logged")
		}
	}
}

func bytesContains(s, sub string) bool { return len(sub) > 0 && strings.Contains(s, sub) }

func TestServiceAccountStoreFailure(t *testing.T) {
	f := newFixture(t, nil)
	store := &memorySecret{v: canarySAToken, failErr: errors.New("disk full")}
	p := f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: store})
	ctx := context.Background()

	g, err := p.Login(ctx)
	if !errors.Is(err, ErrNotStored) || !errors.Is(err, provider.ErrUnavailable) || !g.Access.IsZero() {
		t.Fatalf("login with a failing store: grant handed out=%v err=%v", !g.Access.IsZero(), err)
	}
	// The exchange succeeded upstream: no failed login for the guard.
	if !errors.Is(err, provider.ErrNotSent) {
		t.Fatalf("a store failure after a successful exchange must not count as a failed login: %v", err)
	}
	if n := f.b.Stats().ActiveSessions; n != 0 {
		t.Fatalf("the unused session was not ended: %d active", n)
	}
	pending, _ := p.Credential(ctx)
	if pending.Equal(provider.CredentialID(canarySAToken)) {
		t.Fatal("Credential must name the pending rotated token, not the dead one")
	}
	logins := f.b.Stats().Logins

	// Still failing: no upstream call, the pending token stays.
	if _, err := p.Login(ctx); !errors.Is(err, ErrNotStored) || !errors.Is(err, provider.ErrNotSent) {
		t.Fatalf("second login: %v", err)
	}
	if f.b.Stats().Logins != logins {
		t.Fatal("a login with an unstored rotated token must not call the server")
	}

	// The disk recovers: the pending token is stored first, then used.
	store.mu.Lock()
	store.failErr = nil
	store.mu.Unlock()
	g, err = p.Login(ctx)
	if err != nil {
		t.Fatalf("login after recovery: %v", err)
	}
	if len(store.stores) != 2 || !provider.CredentialID(store.stores[0]).Equal(pending) {
		t.Fatalf("want the pending token stored, then its rotation: %d stores", len(store.stores))
	}
	if st := f.call(t, g, "/cloudapi/1.0.0/orgs"); st != http.StatusOK {
		t.Fatalf("grant after recovery: %d", st)
	}
	assertNoCanary(t, err2s(err), f.logs.String())
}

// TestServiceAccountSaveUnsaved: a held token is stored by SaveUnsaved
// alone (the agent's exit path), without calling the server.
func TestServiceAccountSaveUnsaved(t *testing.T) {
	f := newFixture(t, nil)
	store := &memorySecret{v: canarySAToken, failErr: errors.New("disk full")}
	p := f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: store})
	ctx := context.Background()
	if err := p.SaveUnsaved(ctx); err != nil {
		t.Fatalf("nothing held: %v", err)
	}
	if _, err := p.Login(ctx); !errors.Is(err, ErrNotStored) {
		t.Fatalf("login: %v", err)
	}
	err := p.SaveUnsaved(ctx)
	var ns *secret.NotStoredError
	if !errors.Is(err, ErrNotStored) || !errors.As(err, &ns) || ns.Recovery == "" {
		t.Fatalf("still failing: %v, want ErrNotStored naming the recovery file", err)
	}
	logins := f.b.Stats().Logins
	store.mu.Lock()
	store.failErr = nil
	store.mu.Unlock()
	if err := p.SaveUnsaved(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if f.b.Stats().Logins != logins || len(store.stores) != 1 {
		t.Fatalf("want one store and no upstream call: %d stores", len(store.stores))
	}
	if f.exchangeWith(t, store.value()) != http.StatusOK {
		t.Fatal("the stored token is not the live one")
	}
	if err := p.SaveUnsaved(ctx); err != nil {
		t.Fatalf("nothing held any more: %v", err)
	}
}

// TestServiceAccountHeldSuperseded: while a rotated token is held, an
// administrator installs a new one in the file: the held token is dropped,
// not written over it.
func TestServiceAccountHeldSuperseded(t *testing.T) {
	f := newFixture(t, nil)
	store := &memorySecret{v: canarySAToken, failErr: errors.New("disk full")}
	p := f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: store})
	if _, err := p.Login(context.Background()); !errors.Is(err, ErrNotStored) {
		t.Fatalf("login: %v", err)
	}
	store.mu.Lock()
	store.failErr, store.v = nil, "sa-installed-by-admin"
	store.mu.Unlock()
	if err := p.SaveUnsaved(context.Background()); err != nil {
		t.Fatalf("SaveUnsaved: %v", err)
	}
	if store.value() != "sa-installed-by-admin" || len(store.stores) != 0 {
		t.Fatalf("the held token was written over the administrator's (%d stores)", len(store.stores))
	}
	if c, _ := p.Credential(context.Background()); !c.Equal(provider.CredentialID("sa-installed-by-admin")) {
		t.Fatal("the provider still holds the superseded token")
	}
}

// TestServiceAccountRereadOnInvalidGrant: the file changed while it was
// exchanged (a writer that does not take the lock rotated it): one retry
// with the new value succeeds, so the login is not a rejection.
func TestServiceAccountRereadOnInvalidGrant(t *testing.T) {
	f := newFixture(t, nil)
	store := &memorySecret{v: "sa-stale-0000", reread: canarySAToken}
	p := f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: store})
	g, err := p.Login(context.Background())
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if f.call(t, g, "/cloudapi/1.0.0/orgs") != http.StatusOK || len(store.stores) != 1 {
		t.Fatalf("want a working grant and the rotation stored: %d stores", len(store.stores))
	}
	if st := f.b.Stats(); st.LoginFailures != 1 || st.Logins != 1 {
		t.Fatalf("want exactly one retry: %+v", st)
	}
	// Unchanged on re-read: a rejection, no second try.
	store = &memorySecret{v: "sa-dead-0000"}
	p = f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: store})
	if _, err := p.Login(context.Background()); !errors.Is(err, provider.ErrCredentialsRejected) {
		t.Fatalf("login with a dead token: %v", err)
	}
	if st := f.b.Stats(); st.LoginFailures != 2 {
		t.Fatalf("a dead unchanged token was tried %d times, want once", st.LoginFailures-1)
	}
}

// unwritableSecret is a memorySecret whose store cannot work.
type unwritableSecret struct{ *memorySecret }

func (unwritableSecret) BeginRotation(context.Context) (Rotation, error) {
	return nil, fmt.Errorf("%w: /run/robot is a mount point", secret.ErrCannotStore)
}

func TestServiceAccountUnwritableIsNotSpent(t *testing.T) {
	f := newFixture(t, nil)
	store := unwritableSecret{&memorySecret{v: canarySAToken}}
	p := f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: store})
	if _, err := p.Login(context.Background()); !errors.Is(err, provider.ErrBadConfig) {
		t.Fatalf("login: %v, want ErrBadConfig", err)
	}
	if st := f.b.Stats(); st.Logins+st.LoginFailures != 0 {
		t.Fatalf("the token was sent upstream: %+v", st)
	}
	if f.exchangeWith(t, canarySAToken) != http.StatusOK {
		t.Fatal("the service-account token must still be valid")
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var _ Rotation = (*secret.Rotation)(nil)

func TestServiceAccountFileRotation(t *testing.T) {
	f := newFixture(t, nil)
	path := filepath.Join(t.TempDir(), "sa-token")
	if err := os.WriteFile(path, []byte(canarySAToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: FileServiceAccount(secret.Ref{File: path}, "")})
	prev := canarySAToken
	for i := range 5 {
		g, err := p.Login(context.Background())
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		now := strings.TrimSpace(string(raw))
		fi, _ := os.Stat(path)
		if now == "" || now == prev || fi.Mode().Perm() != 0o600 {
			t.Fatalf("rotation %d: file not rewritten (changed=%v mode %v)", i, now != prev, fi.Mode().Perm())
		}
		if f.call(t, g, "/cloudapi/1.0.0/orgs") != http.StatusOK {
			t.Fatalf("rotation %d: grant refused", i)
		}
		prev = now
	}
}

// TestServiceAccountExchangeSurvivesCancel: the caller's context ends
// while the exchange is on the wire (the keeper closing, a one-shot
// process giving up). The server has rotated by then, so the exchange
// runs to its end and the new token is stored, not lost.
func TestServiceAccountExchangeSurvivesCancel(t *testing.T) {
	f := newFixture(t, nil)
	path := filepath.Join(t.TempDir(), "sa-token")
	if err := os.WriteFile(path, []byte(canarySAToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, Config{Org: "ExampleOrg", ServiceAccount: FileServiceAccount(secret.Ref{File: path}, "")})
	if _, err := p.version(context.Background()); err != nil { // fetched now: only the exchange is slow
		t.Fatal(err)
	}
	body := strings.NewReader(`{"path":"/oauth/tenant/ExampleOrg/token","delay":"300ms","count":1}`)
	resp, err := http.Post(f.srv.URL+"/_sim/faults", "application/json", body)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("fault: %v", err)
	}
	_ = resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _ = p.Login(ctx)
	raw, _ := os.ReadFile(path)
	now := strings.TrimSpace(string(raw))
	if now == canarySAToken || f.exchangeWith(t, now) != http.StatusOK {
		t.Fatalf("after a cancelled exchange the file holds a dead token (unchanged: %v)", now == canarySAToken)
	}
}
