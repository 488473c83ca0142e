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

// Lockout guard backoff: upstreams lock an account after a few failed
// logins (SSO: 5 within 180 s), so after a rejected or unknown-outcome
// login the same credential is tried again only after guardFirst,
// doubling with each further one up to guardMax — or at once when the
// secret source yields another value.
const (
	guardFirst = time.Minute
	guardMax   = 30 * time.Minute
)

// The hard ceiling, whatever the credential: at most CeilingAttempts
// failed or unknown-outcome logins per account within CeilingWindow. The
// window is SSO's 180 s plus slack for the time between our stamp (taken
// before sending) and the server's.
const (
	CeilingAttempts = 2
	CeilingWindow   = 180*time.Second + 5*time.Second
)

// guardStoreTimeout bounds one GuardStore operation. The outcome of a
// login is saved on a context of its own: the call's may be about to end.
const guardStoreTimeout = 5 * time.Second

// outcome is what a login attempt tells the lockout guard.
type outcome int

const (
	outcomeOK          outcome = iota // logged in
	outcomeNotSent                    // provably never reached the server: free, retried
	outcomeMisdirected                // answered by something that is not the login service: free, not retried
	outcomeRejected                   // the server refused the credential
	outcomeUnknown                    // reached the server (or may have): it may have counted a failure
)

// classifyLogin sorts a login error. Anything not proven harmless counts:
// only a request that never left (provider.ErrNotSent) and an answer the
// provider recognised as not coming from the login service at all
// (provider.ErrBadConfig: a 404, Go's answer to plain HTTP on a TLS port,
// a redirect, an untrusted certificate) are free.
func classifyLogin(err error) outcome {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, provider.ErrCredentialsRejected):
		return outcomeRejected
	case errors.Is(err, provider.ErrNotSent):
		return outcomeNotSent
	case errors.Is(err, provider.ErrBadConfig):
		return outcomeMisdirected
	}
	return outcomeUnknown
}

// guardDelay is the wait after the n-th counted failure in a row (n ≥ 1).
func guardDelay(n int) time.Duration {
	d := guardFirst
	for i := 1; i < n && d < guardMax; i++ {
		d *= 2
	}
	return min(d, guardMax)
}

// refusal is why admit refused a login: when the next one is allowed.
type refusal struct {
	retryAt time.Time
	ceiling bool // the hard ceiling, not the credential's backoff
}

// recent are the attempts of r that still count against the ceiling at
// now, a login in flight (or whose process died before it could say how
// it went) included.
func recent(r GuardRecord, now time.Time) []time.Time {
	var out []time.Time
	for _, t := range append(slices.Clone(r.Attempts), r.Pending) {
		if !t.IsZero() && now.Sub(t) < CeilingWindow {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// admit decides whether a login with cred may start at now: not while the
// ceiling is reached or the server's Retry-After runs, whatever the
// credential; not while the backoff runs, for any credential that failed
// since the last success (r.Credential is cred when it is one of them).
func admit(r GuardRecord, cred secret.Secret, now time.Time) (refusal, bool) {
	if at := recent(r, now); len(at) >= CeilingAttempts {
		return refusal{retryAt: at[len(at)-CeilingAttempts].Add(CeilingWindow), ceiling: true}, false
	}
	if now.Before(r.ServerRetryAt) {
		return refusal{retryAt: r.ServerRetryAt}, false
	}
	if r.Failures > 0 && !cred.IsZero() && r.Credential.Equal(cred) && now.Before(r.RetryAt) {
		return refusal{retryAt: r.RetryAt}, false
	}
	return refusal{}, true
}

// begin records a login about to start at now, before it is sent: should
// this process die with the request on the wire, the attempt still
// counts. A pending attempt left by a process that died is counted.
func begin(r GuardRecord, now time.Time) GuardRecord {
	if !r.Pending.IsZero() {
		r.Attempts = append(r.Attempts, r.Pending)
	}
	r.Pending = now
	r.Attempts = recentOnly(r.Attempts, now)
	return r
}

func recentOnly(ts []time.Time, now time.Time) []time.Time {
	return slices.DeleteFunc(slices.Clone(ts), func(t time.Time) bool { return now.Sub(t) >= CeilingWindow })
}

// settle records how the login begun at r.Pending went, at now. A
// success ends the backoff and forgets the failed credentials (the
// ceiling's attempts stay: they were failures); a request that never
// left costs nothing; a rejection or an unknown outcome is one more step
// of the backoff, which then holds back cred and every credential that
// failed before it. A Retry-After holds back the whole account.
func settle(r GuardRecord, o outcome, cred secret.Secret, class string, retryAfter time.Duration, now time.Time) GuardRecord {
	pending := r.Pending
	r.Pending = time.Time{}
	switch o {
	case outcomeOK:
		r.Failures, r.RetryAt, r.Credential, r.Failed, r.Outcome, r.Rejected = 0, time.Time{}, secret.Secret{}, nil, "", false
		r.ServerRetryAt = time.Time{}
	case outcomeRejected, outcomeUnknown:
		if !pending.IsZero() {
			r.Attempts = append(r.Attempts, pending)
		}
		r.Failures++
		r.Credential, r.Outcome, r.Rejected = cred, class, o == outcomeRejected
		r.RetryAt = now.Add(max(guardDelay(r.Failures), retryAfter))
	}
	if !now.Before(r.ServerRetryAt) {
		r.ServerRetryAt = time.Time{}
	}
	if at := now.Add(retryAfter); retryAfter > 0 && at.After(r.ServerRetryAt) {
		r.ServerRetryAt = at
	}
	r.Attempts = recentOnly(r.Attempts, now)
	return r
}

// outcomeClass describes a failed login for the record without any
// upstream text: the kind of failure, the HTTP status and a code made of
// identifier characters only.
func outcomeClass(o outcome, err error) string {
	what := "unknown outcome"
	if o == outcomeRejected {
		what = "rejected"
	}
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return what
	}
	switch {
	case pe.Status != 0 && isIdent(pe.Code):
		return fmt.Sprintf("%s: HTTP %d %s", what, pe.Status, pe.Code)
	case pe.Status != 0:
		return fmt.Sprintf("%s: HTTP %d", what, pe.Status)
	case pe.Message != "" && pe.Err != nil:
		// A transport failure: the message is ours (TransportError).
		return what + ": " + pe.Message + " after sending"
	}
	return what
}

func isIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// NamedByCredential reports whether account a is named by the credential
// a login sends: a keyed principal without material of its own (API key,
// API token). Its guard record is found only with that credential.
func NamedByCredential(a provider.Account) bool { return a.Keyed() && a.Material.IsZero() }

// AccountFor is the account whose budget a login of a's profile with cred
// spends: a itself, or, when NamedByCredential(a), a named by cred. Every
// reader of the guard (the keeper, `tokenkeeper guard reset`) names
// accounts through it.
func AccountFor(a provider.Account, cred secret.Secret) provider.Account {
	if NamedByCredential(a) {
		a.Material = cred
	}
	return a
}

// accountFor is AccountFor of the profile's account.
func (p *profile) accountFor(cred secret.Secret) provider.Account {
	return AccountFor(p.spec.Account, cred)
}

// admitLogin takes the account's login lock and records the attempt
// before it is made, or refuses it. Every path that cannot read, lock or
// write the shared guard refuses: no login without the guard (fail
// closed). The returned release ends the lock.
func (p *profile) admitLogin(ctx context.Context, a provider.Account, cred secret.Secret) (func(), time.Time, error) {
	unlock, err := p.settings.guards.LockLogin(ctx, a)
	if err != nil {
		return nil, time.Time{}, p.guardUnusable(ctx, err)
	}
	var ref refusal
	var ok bool
	var last GuardRecord
	started := time.Now()
	sctx, cancel := context.WithTimeout(ctx, guardStoreTimeout)
	defer cancel()
	err = p.settings.guards.Update(sctx, a, cred, func(r GuardRecord) GuardRecord {
		last = r
		if ref, ok = admit(r, cred, started); !ok {
			return r
		}
		return begin(r, started)
	})
	switch {
	case err != nil:
		unlock()
		return nil, time.Time{}, p.guardUnusable(ctx, err)
	case !ok:
		unlock()
		return nil, time.Time{}, p.refused(a, last, ref)
	}
	return unlock, started, nil
}

// refused is the GuardError for a refusal, remembered for the status.
func (p *profile) refused(a provider.Account, r GuardRecord, ref refusal) error {
	ge := &GuardError{Profile: p.spec.Name, Account: a.String(), RetryAt: ref.retryAt, Ceiling: ref.ceiling,
		Cause: &recordedOutcome{class: r.Outcome, rejected: r.Rejected}, Remedy: p.settings.remedy(p.spec.Name)}
	p.mu.Lock()
	p.health.guardRetryAt = ref.retryAt
	p.mu.Unlock()
	p.log.Debug("login not attempted: lockout guard", "op", "login", "retry_at", ref.retryAt,
		"ceiling", ref.ceiling, "failures", r.Failures)
	return ge
}

// guardUnusable is the error of a login refused because the shared guard
// cannot be used. A context that ended while waiting for another
// process's login of the same account is not the store's fault.
func (p *profile) guardUnusable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return p.errorf("log in", fmt.Errorf("waiting for another login of this account: %w (%w)", err, provider.ErrUnavailable))
	}
	p.log.Error("login not attempted: the lockout guard cannot be used", "op", "login", "error", err)
	return p.errorf("log in", &GuardStoreError{Err: err})
}

// settleLogin records the outcome of the login that admitLogin began at
// started. Failing to record it is logged: the attempt itself is already
// counted (begin), so the ceiling holds.
func (p *profile) settleLogin(ctx context.Context, a provider.Account, cred secret.Secret, started time.Time, loginErr error) {
	o := classifyLogin(loginErr)
	class := outcomeClass(o, loginErr)
	var retryAfter time.Duration
	var pe *provider.Error
	if errors.As(loginErr, &pe) {
		retryAfter = pe.RetryAfter
	}
	now := time.Now()
	var rec GuardRecord
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), guardStoreTimeout)
	defer cancel()
	err := p.settings.guards.Update(ctx, a, cred, func(r GuardRecord) GuardRecord {
		if !r.Pending.Equal(started) {
			// Someone reset the record meanwhile; this attempt still counts.
			r.Pending = started
		}
		rec = settle(r, o, cred, class, retryAfter, now)
		return rec
	})
	if err != nil {
		p.log.Error("could not record the login's outcome in the lockout guard", "op", "login", "error", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch o {
	case outcomeOK:
		p.health.guardRetryAt = time.Time{}
	case outcomeRejected, outcomeUnknown:
		p.health.guardRetryAt = rec.RetryAt
		p.log.Warn("login failed; this credential is not tried again until the backoff passes or it changes",
			"op", "login", "outcome", class, "retry_at", rec.RetryAt, "failures", rec.Failures)
	}
}

// recordedOutcome is the failure that armed the guard, as the record
// keeps it: its class only, never upstream text. A rejection keeps its
// classification for errors.Is.
type recordedOutcome struct {
	class    string
	rejected bool
}

func (e *recordedOutcome) Error() string {
	if e.class == "" {
		return "earlier failed login"
	}
	return "last login " + e.class
}

func (e *recordedOutcome) Unwrap() error {
	if e.rejected {
		return provider.ErrCredentialsRejected
	}
	return nil
}
