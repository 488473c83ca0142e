package keeper

import (
	"strings"
	"time"
)

// Status describes every profile, sorted by name, without secrets.
func (k *Keeper) Status() []Status {
	out := make([]Status, 0, len(k.names))
	for _, n := range k.names {
		out = append(out, k.profiles[n].status())
	}
	return out
}

// status describes the profile now, without secrets. The state and the
// keepalive promise it shows are pure decisions (held.state, held.promised)
// with table tests beside those of held.go.
func (p *profile) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	h := p.held
	s := Status{
		Profile: p.spec.Name, Provider: p.spec.Provider, URL: p.spec.URL,
		RefreshExpiresAt: h.refreshExp, Fingerprint: h.tok.Fingerprint,
		LastUsed: p.lastUsed, Counts: p.counts, KeepAliveUntil: h.promised(now),
	}
	if !h.grant.Access.IsZero() {
		s.AccessExpiresAt = h.expiry(now)
		s.Principal, s.Role = h.tok.Principal, h.tok.Role
		s.Scopes = strings.Join(h.grant.Scopes, " ")
	}
	if p.health.lastErr != nil {
		s.LastError = p.health.lastErr.Error()
	}
	if c := p.inflight; c != nil && c.attempts > 0 {
		s.FailedAttempts, s.NextAttemptAt = c.attempts, c.nextAt
	}
	s.State, s.RetryAt = h.state(now, p.health)
	return s
}

// state is where a profile holding h with health hl stands at now, and
// until when a refusal or backoff lasts, for the status.
func (h held) state(now time.Time, hl health) (State, time.Time) {
	switch {
	case now.Before(hl.guardRetryAt):
		return StateRejected, hl.guardRetryAt
	case now.Before(hl.retryAt):
		return StateBackoff, hl.retryAt
	case h.unexpired(now):
		return StateValid, time.Time{}
	case h.holds():
		return StateExpired, time.Time{}
	}
	return StateEmpty, time.Time{}
}

// promised is the keepalive's promise that the status shows at now: until
// when the session is kept alive, zero when there is no promise or the
// session no longer keeps it (it idled out).
func (h held) promised(now time.Time) time.Time {
	if h.grant.Access.IsZero() || !h.keepAliveUntil.After(now) || h.keepAliveUntil.After(h.expiry(now)) {
		return time.Time{}
	}
	return h.keepAliveUntil
}
