package vault

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

const canarySecretID = "canary-secret-id-7f3a"

// A refused AppRole login is not sent again with the same secret_id:
// Vault would lock the role out (5 refusals, 15 minutes) for the whole
// fleet. A new secret_id is tried at once.
func TestRefusedLoginIsNotRepeated(t *testing.T) {
	var logins atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/auth/approle/login" {
			logins.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errors":["invalid role or secret ID"]}`))
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "secret-id")
	writeSecret := func(v string) {
		if err := os.WriteFile(file, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeSecret(canarySecretID)
	t.Setenv("TK_TEST_ROLE_ID", "role-1")
	c, err := New(Config{Address: srv.URL, AppRole: &AppRole{
		RoleID: &secret.Ref{Env: "TK_TEST_ROLE_ID"}, SecretID: &secret.Ref{File: file}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10 {
		_, err := c.Read(ctx, "secret/data/x")
		if !errors.Is(err, provider.ErrForbidden) || strings.Contains(err.Error(), canarySecretID) {
			t.Fatalf("read %d: %v, want ErrForbidden without the secret id", i, err)
		}
	}
	if n := logins.Load(); n != 1 {
		t.Fatalf("%d login requests for 10 reads with one refused secret id, want 1", n)
	}
	writeSecret(canarySecretID + "-new")
	_, _ = c.Read(ctx, "secret/data/x")
	if n := logins.Load(); n != 2 {
		t.Fatalf("%d login requests after the secret id changed, want 2 (tried at once)", n)
	}
}

// The backoff starts at a minute, doubles while the same credential is
// refused again, stays below Vault's 15-minute lockout, and a success or
// another credential ends it.
func TestLoginGuardBackoff(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	g := newLoginGuard()
	a, b := g.digest("x", "a"), g.digest("x", "b")
	cause := &Error{Msg: "refused"}
	now := t0
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 8 * time.Minute} {
		g.refuse(a, now, cause)
		if _, held := g.holds(a, now.Add(want-time.Second)); !held {
			t.Fatalf("not held %s after a refusal, want a backoff of %s", want-time.Second, want)
		}
		if _, held := g.holds(b, now); held {
			t.Fatal("another credential is held back")
		}
		now = now.Add(want)
		if _, held := g.holds(a, now); held {
			t.Fatalf("still held after %s", want)
		}
	}
	g.accept()
	if _, held := g.holds(a, now); held {
		t.Fatal("held after a success")
	}
}
