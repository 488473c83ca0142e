// Package keeper owns the lifecycle of the bearer tokens of every configured
// profile: it caches them, coalesces concurrent misses into one upstream
// call, refreshes before expiry while a profile is in use, guards against
// locking accounts with a rejected credential, and revokes on teardown.
// It decides; the Provider of each profile speaks the upstream protocol.
//
// The decisions are pure functions in held.go: of what a profile holds,
// the time now and the settings, with a table test each. The profile
// (profile.go) is the state machine around them: its lock, the one
// upstream call in flight (call.go), the timers (schedule.go,
// keepalive.go), the lockout guard (guard.go) and teardown (teardown.go).
//
// Time, here as in every tokenkeeper package, is the runtime clock: code
// reads time.Now and arms time.AfterFunc where it acts, a decision takes
// now as an argument, no type holds a clock or a now function, and tests
// move time inside a testing/synctest bubble. (The simulators of
// internal/sim stand for another machine and keep a clock of their own.)
// Expiries are stamped with time.Now; the proactive refresh, retries and
// keepalives are time.AfterFunc timers, so the bubble's fake clock moves
// both at once.
package keeper

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/role"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultSafetyMargin = 30 * time.Second
	DefaultCallTimeout  = 60 * time.Second
)

// marginDivisor: the safety margin is at most lifetime/marginDivisor.
const marginDivisor = 10

// Options tune a Keeper. The zero value is usable.
type Options struct {
	// Logger receives Debug/Trace lines without secrets; nil discards.
	Logger hclog.Logger
	// SafetyMargin bounds the slack added to every caller's min validity;
	// 0 means 30s. The margin applied to a token is SafetyMargin or a tenth
	// of the token's lifetime, whichever is shorter, so a 60-min token keeps
	// 30s while a 3s token (a simulator, a short-lived lab token) gets 300ms
	// and can still be handed out. A session known only by its idle timeout
	// gets at most half that timeout; the expiry check of the refresh
	// credential scales the same way with the refresh lifetime.
	SafetyMargin time.Duration
	// CallTimeout bounds one shared upstream call including its retries;
	// 0 means 60s.
	CallTimeout time.Duration
	// DefaultMinValidity applies when a Get asks for none.
	DefaultMinValidity time.Duration
	// Rand returns a value in [0, 1) for jitter; nil means math/rand/v2.
	Rand func() float64
	// Guards shares the lockout guard with other processes; nil keeps it
	// in this process only (across its profiles). It is read and written
	// around every login attempt; when it fails, no login is attempted.
	Guards GuardStore
	// GuardRemedy is what a lockout guard refusal of profile tells the
	// user to do once the account is unlocked or the secret fixed, in
	// full; nil: the local command (DefaultGuardRemedy). A composition
	// whose guard is not the runtime directory's (the Vault engine's is
	// in its mount's storage) names its own: a local reset does nothing
	// there.
	GuardRemedy func(profile string) string
	// OneShot: the keeper serves one call and its process exits
	// (tokenkeeper get --no-agent), so nothing keeps an idle-timeout
	// session alive afterwards. A Get whose min validity only keepalive
	// probes could honour fails with ErrMinValidity instead.
	OneShot bool
	// Release, if set, runs once when the keeper stops (Close or
	// Abandon), after its profiles: it lets go of what the providers
	// share, such as the Vault token tokenkeeper logged in for.
	Release func(context.Context) error
}

// ProfileSpec is one configured profile and the provider that serves it.
type ProfileSpec struct {
	Name     string
	Provider string // "vcf", "vcd": reported in tokens and status
	URL      string // reported in status only
	// RefreshBefore, when positive and shorter than the access lifetime,
	// moves the proactive refresh to expiry − RefreshBefore (default: at
	// about two thirds of the lifetime).
	RefreshBefore time.Duration
	// Keepalive, when positive and Impl is a Prober, probes the session on
	// this period while a grant is held so that it does not idle out.
	Keepalive time.Duration
	// Account is the upstream account the profile logs in as: its
	// lockout budget is shared with every profile naming the same
	// account. Zero means Impl's, when Impl has an Account method (the
	// providers of plugin/provider do); New refuses a profile without one.
	Account provider.Account
	Impl    Provider
	// MaxRole is the most a token may carry (max_role): a login above it
	// is revoked at once and fails with a *RoleError. Zero: no limit.
	MaxRole role.Limit
}

// settings are what every profile shares: the Options with defaults
// applied. The decisions (held.go) read its values; only the profile's
// actions use base, rand and guards.
type settings struct {
	// base is the context of every shared upstream call: no caller can
	// cancel it (each gives up on its own), Close does.
	base        context.Context
	rand        func() float64
	margin      time.Duration // upper bound; see marginFor
	callTimeout time.Duration
	minValidity time.Duration
	retry       backoff
	guards      GuardStore                  // never nil: Options.Guards or an in-memory one
	remedy      func(profile string) string // never nil: Options.GuardRemedy or DefaultGuardRemedy
	oneShot     bool                        // no keepalive beyond the call (Options.OneShot)
}

// Keeper holds the token state of every profile. It is safe for concurrent
// use; profiles never block each other.
type Keeper struct {
	log      hclog.Logger
	profiles map[string]*profile // fixed after New
	names    []string            // sorted keys of profiles

	stop    context.CancelFunc          // cancels settings.base
	release func(context.Context) error // Options.Release; nil for none

	closeMu  sync.Mutex // guards closed and closeErr; held for a whole Close
	closed   bool
	closeErr error
}

// New builds a Keeper for specs. Nothing goes upstream until the first Get.
func New(specs []ProfileSpec, o Options) (*Keeper, error) {
	s := newSettings(o)
	log := o.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	k := &Keeper{log: log, profiles: make(map[string]*profile, len(specs)), release: o.Release}
	for _, spec := range specs {
		if spec.Name == "" {
			return nil, errors.New("could not create keeper: a profile has no name")
		}
		if spec.Impl == nil {
			return nil, fmt.Errorf("could not create keeper: profile %q has no provider", spec.Name)
		}
		if spec.Account.IsZero() {
			if a, ok := spec.Impl.(interface{ Account() provider.Account }); ok {
				spec.Account = a.Account()
			}
		}
		if spec.Account.IsZero() {
			return nil, fmt.Errorf("could not create keeper: profile %q names no account for its lockout guard", spec.Name)
		}
		if _, dup := k.profiles[spec.Name]; dup {
			return nil, fmt.Errorf("could not create keeper: profile %q is defined twice", spec.Name)
		}
		k.profiles[spec.Name] = newProfile(spec, s, log.With("profile", spec.Name))
		k.names = append(k.names, spec.Name)
	}
	slices.Sort(k.names)
	s.base, k.stop = context.WithCancel(context.Background())
	return k, nil
}

// marginFor is the safety margin for a token or credential living life:
// the configured margin, but at most a tenth of life when life is known.
// Proportional slack keeps short-lived tokens usable, and a 60-min token
// keeps the full 30s.
func (s *settings) marginFor(life time.Duration) time.Duration {
	if life <= 0 {
		return s.margin
	}
	return min(s.margin, life/marginDivisor)
}

func newSettings(o Options) *settings {
	s := &settings{
		rand:        o.Rand,
		margin:      o.SafetyMargin,
		callTimeout: o.CallTimeout,
		minValidity: max(o.DefaultMinValidity, 0),
		guards:      o.Guards,
		remedy:      o.GuardRemedy,
		oneShot:     o.OneShot,
	}
	if s.guards == nil {
		s.guards = newMemGuards()
	}
	if s.remedy == nil {
		s.remedy = DefaultGuardRemedy
	}
	if s.rand == nil {
		s.rand = rand.Float64
	}
	if s.margin <= 0 {
		s.margin = DefaultSafetyMargin
	}
	if s.callTimeout <= 0 {
		s.callTimeout = DefaultCallTimeout
	}
	s.retry = backoff{base: retryBase, max: retryMax, rand: s.rand}
	return s
}

// Get returns a token of profile valid for at least o.MinValidity plus the
// safety margin (see Options.SafetyMargin), going upstream only when the
// cache cannot serve. A session that idles out sooner (Cloud Director) is
// kept alive by probes until then, unless the keeper is OneShot or the
// provider cannot probe: then the Get fails with ErrMinValidity, as does a
// MinValidity no fresh token could meet (before any upstream call once the
// lifetime is known). When upstream is unavailable and the cached token
// falls short, Get fails with provider.ErrUnavailable, naming the cached
// token's remaining life, unless o.AllowShorter accepts it (Token.Shorter).
func (k *Keeper) Get(ctx context.Context, profile string, o GetOptions) (Token, error) {
	p, err := k.lookup(profile)
	if err != nil {
		return Token{}, err
	}
	return p.get(ctx, o)
}

// Invalidate drops the access token of profile if fingerprint names the
// current one (a host just got a 401 with it) and reports whether it did.
// A stale fingerprint is a no-op, so N hosts hitting the same 401 cause
// one refresh.
// A provider that is an Invalidator is told after the token was dropped,
// by the profile's next upstream call, which Invalidate starts and waits
// for (see Invalidator).
func (k *Keeper) Invalidate(ctx context.Context, profile, fingerprint, reason string) (bool, error) {
	p, err := k.lookup(profile)
	if err != nil {
		return false, err
	}
	if !p.invalidate(fingerprint, reason) {
		return false, nil
	}
	p.passOnNow(ctx)
	return true, nil
}

// Revoke logs profile out upstream (after any call in flight) and forgets
// its state. A profile holding nothing is not contacted.
func (k *Keeper) Revoke(ctx context.Context, profile string) error {
	p, err := k.lookup(profile)
	if err != nil {
		return err
	}
	return p.revoke(ctx)
}

// Detach forgets profile's state (after any call in flight), revoking
// upstream whatever can be revoked without invalidating access tokens
// already handed out: the refresh credential when the provider is a
// Detacher (VCF), nothing otherwise (a Cloud Director session is left to
// its idle timeout). A one-shot process calls it before it exits, so that
// only the access token it printed stays usable. The lockout guard stays.
func (k *Keeper) Detach(ctx context.Context, profile string) error {
	p, err := k.lookup(profile)
	if err != nil {
		return err
	}
	return p.detach(ctx)
}

// Close stops all timers, cancels the upstream calls in flight and revokes
// every profile within ctx, best effort: the errors are joined. Profiles
// are revoked concurrently, so that a plugin host's short grace period
// before SIGKILL covers them all. Later calls return the first result;
// later Gets fail with ErrClosed.
func (k *Keeper) Close(ctx context.Context) error {
	k.closeMu.Lock()
	defer k.closeMu.Unlock()
	// A call in flight would hold up the revocation of what it replaces;
	// whatever it obtained before it stops is revoked by its profile.
	if !k.stopLocked() {
		return k.closeErr
	}
	errs := make([]error, len(k.names))
	var wg sync.WaitGroup
	for i, n := range k.names {
		wg.Go(func() { errs[i] = k.profiles[n].shutdown(ctx) })
	}
	wg.Wait()
	k.closeErr = errors.Join(append(errs, k.releaseShared(ctx))...)
	k.log.Debug("keeper closed", "profiles", len(k.names), "error", k.closeErr)
	return k.closeErr
}

// releaseShared runs Options.Release, if any.
func (k *Keeper) releaseShared(ctx context.Context) error {
	if k.release == nil {
		return nil
	}
	return k.release(ctx)
}

// stopLocked marks the keeper and every profile closed and stops the calls
// in flight, once: it reports false when Close or Abandon ran before.
// k.closeMu must be held.
func (k *Keeper) stopLocked() bool {
	if k.closed {
		return false
	}
	k.closed = true
	for _, n := range k.names {
		k.profiles[n].markClosed()
	}
	k.stop()
	return true
}

func (k *Keeper) lookup(name string) (*profile, error) {
	if p, ok := k.profiles[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("profile %q: %w (configured: %s)", name, ErrUnknownProfile, strings.Join(k.names, ", "))
}
