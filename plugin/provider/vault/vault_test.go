package vault

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
	vaultconn "github.com/tokenkeeper/tokenkeeper/plugin/vault"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// These tests answer as Vault's HTTP layer does for the engine (status,
// {"errors": [message]} or {"data": …}): the engine links the Vault sdk
// and cannot run in this module; host/vault/e2e runs the real one.

const canaryToken = "eyJ.canary-access-token-5e1d"

// engineStub is a Vault answering token/sddc with status and body, and
// recording what it was asked.
type engineStub struct {
	mu          sync.Mutex
	status      int
	body        any
	queries     []string
	invalidated []string
	// invalidateStatus answers invalidate/sddc (0: 200).
	invalidateStatus int
}

func (e *engineStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1/tokenkeeper/token/sddc":
		e.queries = append(e.queries, r.URL.RawQuery)
		w.WriteHeader(e.status)
		_ = json.NewEncoder(w).Encode(e.body)
	case "/v1/tokenkeeper/invalidate/sddc":
		var in map[string]string
		_ = json.NewDecoder(r.Body).Decode(&in)
		e.invalidated = append(e.invalidated, in["fingerprint"])
		if e.invalidateStatus != 0 && e.invalidateStatus != 200 {
			w.WriteHeader(e.invalidateStatus)
			_ = json.NewEncoder(w).Encode(errorBody("1 error occurred:\n\t* permission denied\n\n"))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"invalidated": true}})
	default:
		http.NotFound(w, r)
	}
}

func (e *engineStub) answer(status int, body any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status, e.body = status, body
}

func tokenBody(tok string) map[string]any {
	s := secret.New(tok)
	return map[string]any{"data": map[string]any{
		"profile": "sddc", "provider": "vcf", "token": tok, "token_type": "Bearer",
		"header_name": "Authorization", "header_value": "Bearer " + tok,
		"expires_at": "2026-12-02T04:00:00Z", "ttl": 900, "fingerprint": s.Fingerprint(),
	}}
}

func errorBody(msg string) map[string]any { return map[string]any{"errors": []string{msg}} }

func newTestProvider(t *testing.T, e *engineStub) *Provider {
	t.Helper()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	t.Setenv("TK_TEST_VAULT_TOKEN", "hvs.canary-vault-token")
	c, err := vaultconn.New(vaultconn.Config{Address: srv.URL, Token: &secret.Ref{Env: "TK_TEST_VAULT_TOKEN"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Client: c, Mount: "tokenkeeper", Name: "sddc"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The engine's answers, as its codedError writes them, map to the
// classes (and so, through the keeper, the exit codes) a local keeper's
// failures have; the codes are plugin's table test's.
func TestEngineErrorClasses(t *testing.T) {
	retryAt := "2026-12-02T03:41:00.5Z"
	tests := []struct {
		name   string
		status int
		msg    string
		is     error
	}{
		{"credentials rejected upstream", 401, `Unauthenticated: profile "sddc": log in: POST /v1/tokens: HTTP 401 (credentials rejected)`,
			provider.ErrCredentialsRejected},
		{"the engine's lockout guard", 423, "FailedPrecondition LOCKOUT_GUARD retry_at=" + retryAt + `: profile "sddc": login not attempted (lockout guard)`,
			nil},
		{"bad configuration in the engine", 409, `FailedPrecondition BAD_CONFIG: profile "sddc": x509: certificate signed by unknown authority`,
			provider.ErrBadConfig},
		{"min validity beyond the lifetime", 400, `InvalidArgument: profile "sddc": a fresh token lives 15s: min validity exceeds the token lifetime`,
			provider.ErrMinValidity},
		{"no such engine profile", 404, `NotFound: no profile "sddc"`, provider.ErrBadConfig},
		{"no such mount", 404, "no handler for route \"tokenkeeper/token/sddc\". route entry not found.", provider.ErrBadConfig},
		{"Vault's policy", 403, "1 error occurred:\n\t* permission denied\n\n", provider.ErrForbidden},
		{"role too weak upstream", 403, `PermissionDenied: profile "sddc": role ADMIN above max_role`, provider.ErrForbidden},
		{"upstream unavailable", 503, `Unavailable: profile "sddc": log in: POST /v1/tokens: HTTP 503`, provider.ErrUnavailable},
		{"Vault sealed", 503, "Vault is sealed", provider.ErrUnavailable},
		{"Vault's internal error", 500, "internal error", provider.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &engineStub{}
			e.answer(tt.status, errorBody(tt.msg))
			_, err := newTestProvider(t, e).Fetch(context.Background(), 0)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			var gr *provider.GuardRefusal
			if isGuard := errors.As(err, &gr); isGuard != (tt.status == 423) {
				t.Fatalf("GuardRefusal %v for %v", isGuard, err)
			}
			if gr != nil && (gr.Upstream == "" || gr.RetryAt.Format(time.RFC3339Nano) != retryAt) {
				t.Errorf("guard refusal %+v", gr)
			}
			if strings.Contains(err.Error(), "Unauthenticated:") || strings.Contains(err.Error(), "LOCKOUT_GUARD") {
				t.Errorf("the engine's code prefix is left in %q", err)
			}
		})
	}
}

// A token answer becomes a grant anchored to its ttl; the caller's min
// validity goes as min_validity, with fetchSlack, rounded up.
func TestFetchMapsTheAnswer(t *testing.T) {
	e := &engineStub{}
	e.answer(200, tokenBody(canaryToken))
	p := newTestProvider(t, e)
	g, err := p.Fetch(context.Background(), 10*time.Minute+500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if g.Access.Reveal() != canaryToken || g.TokenType != "Bearer" || g.HeaderName != provider.HeaderAuthorization ||
		g.AccessLifetime != 15*time.Minute || !g.Refresh.IsZero() {
		t.Errorf("grant %+v", g)
	}
	if len(e.queries) != 1 || e.queries[0] != "min_validity=603" {
		t.Errorf("queries %q, want min_validity=603", e.queries)
	}
}

// An answer whose fingerprint is not this keeper's for the token is
// refused: invalidations could not name the token.
func TestFetchRefusesAForeignFingerprint(t *testing.T) {
	e := &engineStub{}
	body := tokenBody(canaryToken)
	body["data"].(map[string]any)["fingerprint"] = "sha256:0000000000000000"
	e.answer(200, body)
	_, err := newTestProvider(t, e).Fetch(context.Background(), 0)
	if !errors.Is(err, provider.ErrProtocol) || strings.Contains(err.Error(), canaryToken) {
		t.Fatalf("Fetch: %v, want ErrProtocol without the token", err)
	}
}

// Invalidate reaches the engine's invalidate/<name>; a refusal (no
// update on the path) is the error of that write alone: the next read
// hands out what the engine has (docs/fleet.md), it does not fail.
func TestInvalidateReachesTheEngine(t *testing.T) {
	for _, status := range []int{200, 403} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			e := &engineStub{invalidateStatus: status}
			e.answer(200, tokenBody(canaryToken))
			p := newTestProvider(t, e)
			fp := secret.New(canaryToken).Fingerprint()
			err := p.Invalidate(context.Background(), fp, "401")
			if (status == 200) != (err == nil) || (err != nil && !errors.Is(err, provider.ErrForbidden)) {
				t.Fatalf("Invalidate answered %d: %v", status, err)
			}
			for range 3 {
				if _, err := p.Fetch(context.Background(), 0); err != nil {
					t.Fatalf("Fetch after an invalidation answered %d: %v", status, err)
				}
			}
			if len(e.invalidated) != 1 || e.invalidated[0] != fp || len(e.queries) != 3 {
				t.Fatalf("invalidated %q, reads %d; want the fingerprint once and three reads", e.invalidated, len(e.queries))
			}
		})
	}
}

func TestLockoutReasonIsTheWires(t *testing.T) {
	if reasonLockoutGuard != wire.ReasonLockoutGuard {
		t.Fatalf("reason %q, the wire says %q", reasonLockoutGuard, wire.ReasonLockoutGuard)
	}
}
