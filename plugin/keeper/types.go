package keeper

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// GuardStore keeps the lockout guard of every account beyond one
// process, so that the budget of an account (DESIGN rule 6) holds across
// profiles, profiles files, agents, `--no-agent` calls and plugin
// children. An account's record is named by its provider.Account; a store
// names a keyed principal (Material) by a keyed fingerprint only. Any
// error makes the keeper refuse the login (fail closed).
type GuardStore interface {
	// LockLogin waits until it holds the login lock of account a, in
	// every process, or ctx ends, and returns its release. The keeper
	// holds it from reading the record until the outcome is saved.
	LockLogin(ctx context.Context, a provider.Account) (unlock func(), err error)
	// Update reads the record of a (the zero record when there is none),
	// passes it to f and saves what f returns, all under the store's
	// lock; a zero result deletes the record. The Credential f sees is
	// cred when the record was saved for cred, zero otherwise: a store
	// may keep only a keyed digest of it. The store keeps the digests of
	// Failed (at most MaxFailedCredentials, the newest): a Credential f
	// returns is added to them, a Failed f returns empty clears them.
	Update(ctx context.Context, a provider.Account, cred secret.Secret, f func(GuardRecord) GuardRecord) error
}

// GuardRecord is the lockout state of one account.
type GuardRecord struct {
	// Credential, as Update passes it to f, is the credential of the
	// call when it is one of the credentials that failed since the last
	// success (Failed); the zero Secret otherwise. As f returns it, it is
	// a credential that just failed, for the store to add to Failed.
	Credential secret.Secret
	// Failed are the store's opaque digests of the credentials counted as
	// failed since the last success, newest last: each is refused until
	// RetryAt, so alternating stale secrets cannot dodge the doubling.
	// The keeper only clears it.
	Failed   []string
	Failures int       // counted failures in a row (rejected or unknown outcome)
	RetryAt  time.Time // no login with any credential of Failed before this
	// ServerRetryAt is when the server's Retry-After ends: it asked the
	// account to wait, so no login with any credential before it.
	ServerRetryAt time.Time
	Rejected      bool   // the last counted failure was a rejection
	Outcome       string // its class ("rejected: HTTP 401 BAD_CREDENTIALS"), never upstream text
	// Attempts are the failed or unknown-outcome logins of the last
	// ceiling window, whatever the credential.
	Attempts []time.Time
	// Pending is a login in flight, recorded before it was sent; one
	// found by the next login belonged to a process that died, and counts.
	Pending time.Time
}

// IsZero reports whether r holds nothing worth keeping.
func (r GuardRecord) IsZero() bool {
	return r.Failures == 0 && len(r.Attempts) == 0 && r.Pending.IsZero() && r.ServerRetryAt.IsZero()
}

// MaxFailedCredentials bounds GuardRecord.Failed: older failed
// credentials fall out and are then held back by the ceiling only.
const MaxFailedCredentials = 8

// AddFailed appends digest d to the failed credentials fs unless it is
// there, keeping the newest MaxFailedCredentials. It is for GuardStores.
func AddFailed(fs []string, d string) []string {
	if d == "" || slices.Contains(fs, d) {
		return fs
	}
	fs = append(slices.Clone(fs), d)
	if n := len(fs) - MaxFailedCredentials; n > 0 {
		fs = fs[n:]
	}
	return fs
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

// Relay is implemented by providers whose upstream is itself a keeper:
// provider vault reads the tokens of the Vault engine, which logs in,
// refreshes and guards the account for a whole fleet. The keeper then
// gets every grant with Fetch instead of Login (its grants carry no
// refresh credential), passing minValidity: what this keeper will check
// of the token, the longest min validity a waiting caller asks (the
// default min validity for a proactive renewal) plus this keeper's
// safety margin for the upstream's last token. Before the first fetch
// that lifetime is unknown and the margin left out (the full 30 s margin
// would be refused for a token that lives 15 s); a token that then falls
// short of the margin is fetched once more, asking for it. Fetch spends no
// lockout budget here: the upstream guards the account and its refusal is
// the error (a *provider.GuardRefusal, reported as a GuardError with
// Upstream set; provider.ErrMinValidity becomes ErrMinValidity), while a
// budget of this process would hold back a password fixed upstream. Transient failures
// are retried within the caller's deadline, as for a refresh.
type Relay interface {
	Fetch(ctx context.Context, minValidity time.Duration) (provider.Grant, error)
}

// Invalidator is implemented by Relays whose upstream holds the token
// too (provider vault: the engine hands one token to every reader). When
// Keeper.Invalidate drops the token fingerprint names, the profile's next
// upstream call (which Invalidate starts and waits for) passes the
// invalidation on first, bounded by InvalidateTimeout, so that the
// single flight orders it before the fetch of the next token and the
// upstream drops it instead of handing it out again. A fetch that still
// gets it (it raced the invalidation) passes it on and fetches once more;
// the provider needs no state of its own for this. A failure is logged,
// not returned (the local token is gone either way), and what the
// upstream hands out then is handed out.
type Invalidator interface {
	Invalidate(ctx context.Context, fingerprint, reason string) error
}

// InvalidateTimeout bounds the upstream invalidation of an Invalidator.
const InvalidateTimeout = 10 * time.Second

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
	// Principal is who the token speaks for and Role what it carries
	// ("VIEWER", "vApp User, Custom"), as the upstream says; empty when
	// it did not.
	Principal string
	Role      string
	// Shorter: the token was handed out under GetOptions.AllowShorter and
	// does not stay valid for the min validity asked (upstream could not
	// be reached for a fresh one). ExpiresAt says how long it does.
	Shorter bool
}

// GetOptions tune one Get call.
type GetOptions struct {
	// MinValidity: the token must stay valid at least this long.
	MinValidity time.Duration
	// ForceRefresh: go upstream even if the cached token qualifies.
	ForceRefresh bool
	// AllowShorter: when no token valid for MinValidity can be had because
	// upstream is unavailable, hand out the cached token while it has not
	// expired, marked Token.Shorter, instead of failing with
	// provider.ErrUnavailable (DESIGN rule 7).
	AllowShorter bool
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
// the lockout guard made no upstream call and is not counted. For a
// Relay, Logins and LoginFailures count its fetches from the upstream
// keeper (a Vault 403 or 5xx on the read is a LoginFailure): it has no
// login of its own.
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
	// FailedAttempts of the upstream call in flight so far (0: none in
	// flight, or none failed yet), and NextAttemptAt, when it tries
	// again; LastError names the latest failure. A caller waiting on the
	// call shows them as progress.
	FailedAttempts int
	NextAttemptAt  time.Time
	// Principal, Role and Scopes describe the current token, as the
	// upstream says (empty when it did not, or no token is held): Role
	// as in Token, Scopes the raw permissions space-separated (VCF).
	// Strings, so that a Status stays comparable.
	Principal string
	Role      string
	Scopes    string
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

// GuardError is the lockout guard refusing to attempt a login: the
// account had too many failed or unknown-outcome logins recently (the
// ceiling), or the last one with this credential failed and neither the
// credential has changed nor the backoff step has passed. No upstream
// call was made. errors.Is(err, provider.ErrCredentialsRejected) holds
// through Cause when the last failure was a rejection.
type GuardError struct {
	Profile string
	Account string // provider.Account.String(): principal and origin
	RetryAt time.Time
	Ceiling bool
	Cause   error
	// Upstream names the keeper whose guard refused when it is not this
	// process's (a Relay's: "the Vault engine at …"); Cause is then its
	// own words, and Account is empty.
	Upstream string
	// Remedy is what the user does about it once the account is unlocked
	// or the secret fixed (Options.GuardRemedy); empty: the local
	// command, DefaultGuardRemedy.
	Remedy string
}

// DefaultGuardRemedy is the remedy of a refusal by the guard in the
// runtime directory: the local reset.
func DefaultGuardRemedy(profile string) string {
	return "once an administrator has unlocked the account or the secret is fixed: tokenkeeper guard reset --profile " + profile
}

func (e *GuardError) Error() string {
	if e.Upstream != "" {
		// The keeper's error around it names the profile.
		return fmt.Sprintf("login not attempted by %s (its lockout guard; next attempt after %s, or at once when the secret there changes): %v",
			e.Upstream, retryAtText(e.RetryAt), e.Cause)
	}
	if e.Ceiling {
		// A reset keeps these attempts, so it is no way out: say when.
		return fmt.Sprintf("profile %q: login as %s not attempted (lockout guard): %d failed or unknown-outcome logins of this account within %s (SSO locks an account after 5 in 180s); the next attempt is allowed after %s, whatever the secret",
			e.Profile, e.Account, CeilingAttempts, CeilingWindow, retryAtText(e.RetryAt))
	}
	why := fmt.Sprintf("%v; will retry after %s or when the secret changes", e.Cause, retryAtText(e.RetryAt))
	remedy := e.Remedy
	if remedy == "" {
		remedy = DefaultGuardRemedy(e.Profile)
	}
	return fmt.Sprintf("profile %q: login as %s not attempted (lockout guard): %s; %s",
		e.Profile, e.Account, why, remedy)
}

// Unwrap returns the failure that armed the guard.
func (e *GuardError) Unwrap() error { return e.Cause }

// ErrGuardStore: the shared lockout guard cannot be read, locked or
// written, so no login is attempted. It is bad configuration: a person
// must fix the runtime directory.
var ErrGuardStore = errors.New("lockout guard unusable")

// GuardStoreError is a login refused because the GuardStore failed; Err
// (from the store) names the path and the fix.
type GuardStoreError struct{ Err error }

func (e *GuardStoreError) Error() string {
	return "not attempted: the shared lockout guard cannot be used, and logging in without it could lock the account: " + e.Err.Error()
}

// Unwrap returns the store's error.
func (e *GuardStoreError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrGuardStore) hold.
func (e *GuardStoreError) Is(target error) bool { return target == ErrGuardStore }

// retryAtText renders the guard's retry time in whole seconds, rounded up
// so that "will retry after" is never earlier than the real retry time and
// agrees with the exec Error document's retryAt.
func retryAtText(t time.Time) string {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	return t.UTC().Format(time.RFC3339)
}
