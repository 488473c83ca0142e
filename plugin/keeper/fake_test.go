package keeper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Compile-time checks: the fakes are what the keeper expects.
var (
	_ Provider = (*fake)(nil)
	_ Prober   = (*probingFake)(nil)
	_ Detacher = (*detachingFake)(nil)
)

// fake is an in-memory upstream in the manner of SDDC Manager: a password
// login mints an access token and a refresh id; refresh mints a new access
// token from a live refresh id; revoke deletes the refresh id. Time is the
// runtime clock, which synctest fakes. Every field is guarded by mu.
type fake struct {
	mu sync.Mutex

	latency    time.Duration            // of every upstream call…
	latencies  map[string]time.Duration // …but these ops ("login", "refresh", "revoke", "probe")
	deaf       bool                     // calls ignore cancellation: the answer was already on the wire
	accessTTL  time.Duration
	refreshTTL time.Duration
	idle       time.Duration // Grant.IdleTimeout, 0 for none
	idleUnsaid bool          // Grant.IdleUnknown: the session idles out after an unreported time
	noRefresh  bool          // grants carry no refresh credential
	rotate     bool          // refresh returns a new refresh credential
	skew       time.Duration // the server's clock is this far off ours
	prefix     string        // prefixes every secret (canary tests)
	password   string        // what the secret source yields now
	good       string        // what the upstream accepts
	principal  string        // the account's user; "" is "user"
	roles      []string      // Grant.Roles of what it mints

	// Scripted failures, consumed one per call; a nil entry succeeds.
	loginErrs, refreshErrs, revokeErrs, probeErrs []error

	serial     int
	refreshIDs map[string]time.Time // live refresh ids → expiry
	inflight   int                  // upstream calls in progress
	maxInfl    int

	logins, refreshes, revokes, probes, credentials, detaches int // calls made
	loginAt, refreshAt                                        []time.Time
	revoked, detached                                         []provider.Grant
}

func newFake() *fake {
	return &fake{
		latency: 500 * time.Millisecond, accessTTL: time.Hour, refreshTTL: 24 * time.Hour,
		password: "right", good: "right", refreshIDs: map[string]time.Time{},
	}
}

// probingFake adds Probe: the session is alive unless scripted otherwise.
type probingFake struct{ *fake }

func (f probingFake) Probe(ctx context.Context, g provider.Grant) error {
	if err := f.enter(ctx, "probe"); err != nil {
		return err
	}
	defer f.leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes++
	return pop(&f.probeErrs)
}

// detachingFake adds Detach in the manner of VCF: the refresh id is
// deleted, the access token lives on.
type detachingFake struct{ *fake }

func (f detachingFake) Detach(ctx context.Context, g provider.Grant) error {
	if err := f.enter(ctx, "detach"); err != nil {
		return err
	}
	defer f.leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detaches++
	f.detached = append(f.detached, g)
	if err := pop(&f.revokeErrs); err != nil {
		return err
	}
	delete(f.refreshIDs, g.Refresh.Reveal())
	return nil
}

func (f *fake) enter(ctx context.Context, op string) error {
	f.mu.Lock()
	f.inflight++
	f.maxInfl = max(f.maxInfl, f.inflight)
	d, ok := f.latencies[op]
	if !ok {
		d = f.latency
	}
	if f.deaf {
		ctx = context.WithoutCancel(ctx)
	}
	f.mu.Unlock()
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		f.leave()
		return &provider.Error{Op: "call", Kind: provider.ErrUnavailable, Err: ctx.Err()}
	}
}

func (f *fake) leave() {
	f.mu.Lock()
	f.inflight--
	f.mu.Unlock()
}

func pop(errs *[]error) error {
	if len(*errs) == 0 {
		return nil
	}
	err := (*errs)[0]
	*errs = (*errs)[1:]
	return err
}

func (f *fake) Login(ctx context.Context) (provider.Grant, error) {
	if err := f.enter(ctx, "login"); err != nil {
		return provider.Grant{}, err
	}
	defer f.leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins++
	f.loginAt = append(f.loginAt, time.Now())
	if err := pop(&f.loginErrs); err != nil {
		return provider.Grant{}, err
	}
	if f.password != f.good {
		// A careless upstream might echo what it got; the keeper must
		// still not leak it, but the fake plays fair: no secret here.
		return provider.Grant{}, &provider.Error{Op: "login", Method: "POST", Path: "/v1/tokens",
			Status: 401, Message: "bad credentials", Kind: provider.ErrCredentialsRejected}
	}
	return f.mintLocked(!f.noRefresh), nil
}

func (f *fake) Refresh(ctx context.Context, g provider.Grant) (provider.Grant, error) {
	if err := f.enter(ctx, "refresh"); err != nil {
		return provider.Grant{}, err
	}
	defer f.leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	f.refreshAt = append(f.refreshAt, time.Now())
	if err := pop(&f.refreshErrs); err != nil {
		return provider.Grant{}, err
	}
	exp, ok := f.refreshIDs[g.Refresh.Reveal()]
	if !ok || !time.Now().Before(exp) {
		return provider.Grant{}, &provider.Error{Op: "refresh access token", Method: "PATCH",
			Path: "/v1/tokens/access-token/refresh", Status: 404, Kind: provider.ErrRefreshRejected}
	}
	if f.rotate {
		delete(f.refreshIDs, g.Refresh.Reveal())
	}
	return f.mintLocked(f.rotate), nil
}

// mintLocked issues a token whose lifetime the way a provider reads it from
// a JWT: exp − iat, both on the server's (possibly skewed) clock.
func (f *fake) mintLocked(withRefresh bool) provider.Grant {
	f.serial++
	iat := time.Now().Add(f.skew)
	exp := iat.Add(f.accessTTL)
	g := provider.Grant{
		Access:         secret.New(fmt.Sprintf("%saccess-%d", f.prefix, f.serial)),
		TokenType:      "Bearer",
		HeaderName:     provider.HeaderAuthorization,
		AccessLifetime: exp.Sub(iat),
		IdleTimeout:    f.idle,
		IdleUnknown:    f.idleUnsaid,
		Principal:      f.principal,
		Roles:          f.roles,
	}
	if withRefresh {
		id := fmt.Sprintf("%srefresh-%d", f.prefix, f.serial)
		f.refreshIDs[id] = time.Now().Add(f.refreshTTL)
		g.Refresh, g.RefreshLifetime = secret.New(id), f.refreshTTL
	}
	return g
}

func (f *fake) Revoke(ctx context.Context, g provider.Grant) error {
	if err := f.enter(ctx, "revoke"); err != nil {
		return err
	}
	defer f.leave()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revokes++
	f.revoked = append(f.revoked, g)
	if err := pop(&f.revokeErrs); err != nil {
		return err
	}
	delete(f.refreshIDs, g.Refresh.Reveal())
	return nil
}

// Account is the one account every fake logs in as, unless principal
// names another.
func (f *fake) Account() provider.Account {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.principal
	if p == "" {
		p = "user"
	}
	return provider.Account{Provider: "vcf", Origin: "https://sddc.test:443", Kind: provider.KindUser, Principal: p}
}

func (f *fake) Credential(context.Context) (secret.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.credentials++
	return credentialID(f.password), nil
}

// credentialID is what a provider's Credential returns for user and pw:
// the full SHA-256 (hex) of the login material, as an opaque Secret.
func credentialID(pw string) secret.Secret {
	sum := sha256.Sum256([]byte("user\x00" + pw))
	return secret.New(hex.EncodeToString(sum[:]))
}

// snapshot returns the call counts: logins, refreshes, revokes, probes.
func (f *fake) snapshot() (logins, refreshes, revokes, probes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.refreshes, f.revokes, f.probes
}

func (f *fake) set(fn func(f *fake)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// newTestKeeper builds a keeper with one profile "p" over impl. Call it
// inside the synctest bubble; the keeper is closed when the bubble's
// function returns.
func newTestKeeper(t *testing.T, impl Provider, o Options, mods ...func(*ProfileSpec)) *Keeper {
	t.Helper()
	spec := ProfileSpec{Name: "p", Provider: "vcf", URL: "https://sddc.test", Impl: impl}
	for _, m := range mods {
		m(&spec)
	}
	k, err := New([]ProfileSpec{spec}, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	return k
}

func statusOf(t *testing.T, k *Keeper, name string) Status {
	t.Helper()
	for _, s := range k.Status() {
		if s.Profile == name {
			return s
		}
	}
	t.Fatalf("no status for profile %q", name)
	return Status{}
}

// mustGet fails the test on error, without printing the token.
func mustGet(t *testing.T, k *Keeper, o GetOptions) Token {
	t.Helper()
	tok, err := k.Get(context.Background(), "p", o)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return tok
}

func traceLogger(w *testutil.SyncBuffer, json bool) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "keeper", Level: hclog.Trace, Output: w, JSONFormat: json})
}
