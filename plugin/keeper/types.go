package keeper

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Provider is the upstream protocol of one profile. Implementations live in
// plugin/provider/vcf and plugin/provider/vcd and know nothing of the keeper.
type Provider interface {
	// Login authenticates with the primary credential (password, API
	// token, service-account token). A rejection wraps
	// provider.ErrCredentialsRejected.
	Login(ctx context.Context) (provider.Grant, error)
	// Refresh mints a new access token from g.Refresh. A rejected refresh
	// credential wraps provider.ErrRefreshRejected, and the keeper logs in
	// instead. The returned grant carries the new access token; when its
	// Refresh is empty the keeper keeps the old refresh credential and its
	// original expiry (VCF does not rotate), when it is set the keeper
	// switches to it with a new expiry. A provider without refresh (Cloud
	// Director: grants carry no Refresh, so the keeper never calls it; a
	// service-account token is rotated inside Login) rejects every call.
	Refresh(ctx context.Context, g provider.Grant) (provider.Grant, error)
	// Revoke logs out upstream: the VCF refresh token, the VCD session.
	// An already-gone credential is success.
	Revoke(ctx context.Context, g provider.Grant) error
	// Credential returns an opaque value identifying the primary
	// credential as the secret source yields it now (e.g. the SHA-256 of
	// the login material), compared only with Equal. The lockout guard
	// retries a rejected login early only when this changes. It is a
	// Secret because a fast hash of a low-entropy password can be tested
	// offline: the keeper never logs it, not even its Fingerprint.
	Credential(ctx context.Context) (secret.Secret, error)
}

// GuardStore keeps the lockout guard of each profile beyond one process,
// so that one failed login per credential and backoff step holds across
// every exec process, plugin launch and agent (DESIGN rule 6). A key names
// one profile's identity (see ProfileSpec.GuardKey). Errors are logged by
// the keeper, which then guards in memory only.
type GuardStore interface {
	// Load returns the rejection recorded under key, if any. A store may
	// keep only a keyed digest of the credential, so the caller passes
	// cred (what Provider.Credential returns now): the returned
	// Credential is cred when the record was made for it, zero otherwise.
	Load(ctx context.Context, key string, cred secret.Secret) (GuardState, bool, error)
	// Save records a rejected login under key, replacing what was there.
	Save(ctx context.Context, key string, s GuardState) error
	// Clear forgets key after a successful login.
	Clear(ctx context.Context, key string) error
}

// LoginLocker is implemented by a GuardStore that can serialize the logins
// of one key across processes. The keeper holds the lock from reading the
// store until the outcome is recorded, so that processes starting at the
// same moment try a rejected credential once in all, not once each.
type LoginLocker interface {
	// LockLogin waits until it holds the login lock of key or ctx ends,
	// and returns its release.
	LockLogin(ctx context.Context, key string) (unlock func(), err error)
}

// GuardState is a rejected login as a GuardStore records it.
type GuardState struct {
	Credential secret.Secret // what Provider.Credential returned
	Rejections int           // rejected logins in a row
	RetryAt    time.Time     // no login with Credential before this
	LastError  string        // the rejection's message, secret-free
}

// Prober is implemented by providers whose tokens can die of idleness
// (Cloud Director): Probe checks cheaply whether the session still lives.
// A dead session wraps provider.ErrRefreshRejected.
type Prober interface {
	Probe(ctx context.Context, g provider.Grant) error
}

// Detacher is implemented by providers that can revoke part of a grant
// without invalidating its access token (VCF: deleting the refresh token
// leaves the access token valid until its exp). Keeper.Detach calls it; a
// provider whose only revocation is a logout (Cloud Director: the session
// is the access token) does not implement it. An already-gone credential
// is success.
type Detacher interface {
	Detach(ctx context.Context, g provider.Grant) error
}

// Token is what Get hands out.
type Token struct {
	Profile     string
	Provider    string // "vcf" or "vcd"
	Access      secret.Secret
	TokenType   string
	HeaderName  string
	HeaderValue secret.Secret
	ExpiresAt   time.Time
	Fingerprint string
}

// GetOptions tune one Get call.
type GetOptions struct {
	// MinValidity: the token must stay valid at least this long.
	MinValidity time.Duration
	// ForceRefresh: go upstream even if the cached token qualifies.
	ForceRefresh bool
}

// State names where a profile's state machine stands.
type State string

// The states reported by Status.
const (
	StateEmpty    State = "empty"    // nothing cached
	StateValid    State = "valid"    // a usable access token is cached
	StateExpired  State = "expired"  // cached token expired, refresh pending
	StateRejected State = "rejected" // login rejected; failing fast
	StateBackoff  State = "backoff"  // transient upstream failures
)

// Counts are upstream calls made for one profile: Logins and Refreshes
// count successes, LoginFailures and RefreshFailures failed attempts
// (retries included), Revocations successful logouts and detaches (see
// Keeper.Detach). A login refused by
// the lockout guard made no upstream call and is not counted.
type Counts struct {
	Logins, LoginFailures, Refreshes, RefreshFailures, Revocations int64
}

// Status describes one profile without secrets.
type Status struct {
	Profile          string
	Provider         string
	URL              string
	State            State
	AccessExpiresAt  time.Time
	RefreshExpiresAt time.Time
	Fingerprint      string
	LastError        string
	RetryAt          time.Time
	LastUsed         time.Time
	Counts           Counts
	// KeepAliveUntil: the keeper probes the idle-timeout session until
	// then because a caller's min validity asked for it (zero: no such
	// promise). Revoking the profile before then (logout, a process that
	// revokes on exit) ends a session that tokens handed out claim lives.
	KeepAliveUntil time.Time
}

// ErrUnknownProfile: no profile of that name is configured.
var ErrUnknownProfile = errors.New("unknown profile")

// ErrMinValidity: the caller asked for a token valid longer than a fresh
// one lives (a bad request, not an upstream failure).
var ErrMinValidity = errors.New("min validity exceeds the token lifetime")

// ErrClosed: the keeper is shutting down.
var ErrClosed = errors.New("keeper closed")

// GuardError is the lockout guard refusing to attempt a login: the last
// login with this credential was rejected and neither the credential has
// changed nor the backoff step has passed. No upstream call was made.
// errors.Is(err, provider.ErrCredentialsRejected) holds through Cause.
type GuardError struct {
	Profile string
	RetryAt time.Time
	Cause   error
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("profile %q: login not attempted: credentials were rejected; will retry after %s or when the secret changes: %v",
		e.Profile, retryAtText(e.RetryAt), e.Cause)
}

// Unwrap returns the rejection that armed the guard.
func (e *GuardError) Unwrap() error { return e.Cause }

// retryAtText renders the guard's retry time in whole seconds, rounded up
// so that "will retry after" is never earlier than the real retry time and
// agrees with the exec Error document's retryAt.
func retryAtText(t time.Time) string {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	return t.UTC().Format(time.RFC3339)
}
