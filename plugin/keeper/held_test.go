package keeper

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// The decisions of held.go are pure: these tables pin each rule without a
// keeper, a lock or a clock. The synctest suites check the behaviour they
// add up to.

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// defaults are the settings of a keeper built with zero Options: a 30s
// margin, no default min validity.
func defaults() *settings { return newSettings(Options{}) }

// token is a held access token of life, received at t0.
func token(life time.Duration) held {
	return held{
		grant: provider.Grant{Access: secret.New("access"), AccessLifetime: life}, lifetime: life,
		accessExp: t0.Add(life), acquiredAt: t0, lastActive: t0,
	}
}

// session is a held idle-timeout session without a hard expiry, last
// used at t0.
func session(idle time.Duration) held {
	return held{grant: provider.Grant{Access: secret.New("session"), IdleTimeout: idle}, acquiredAt: t0, lastActive: t0}
}

// with returns h holding the refresh credential "refresh", ending at exp
// (zero: never) after a lifetime of life.
func (h held) with(exp time.Time, life time.Duration) held {
	h.grant.Refresh, h.grant.RefreshLifetime, h.refreshExp = secret.New("refresh"), life, exp
	return h
}

// gone returns h known dead upstream.
func (h held) gone() held { h.dead = true; return h }

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestVerdict(t *testing.T) {
	dead := token(time.Hour).with(time.Time{}, 0).gone()
	tests := []struct {
		name     string
		h        held
		now      time.Time
		need     time.Duration
		canProbe bool
		want     verdict
	}{
		{"nothing held", held{}, t0, 0, true, needRenew},
		{"only a refresh credential", held{}.with(time.Time{}, 0), t0, 0, true, needRenew},
		{"remaining life is exactly the need", token(time.Hour), at(10 * time.Minute), 50 * time.Minute, false, serveCached},
		{"remaining life 1ns short, nothing to refresh with", token(time.Hour), at(10*time.Minute + 1), 50 * time.Minute, false, needRenew},
		{"remaining life 1ns short, refreshable", token(time.Hour).with(time.Time{}, 0), at(10*time.Minute + 1), 50 * time.Minute, false, needRenew},
		{"refresh credential known dead", dead, at(time.Hour), time.Minute, false, needRenew},
		{"refresh credential within its margin", token(time.Hour).with(at(time.Hour+30*time.Second), 24*time.Hour), at(time.Hour), time.Minute, false, needRenew},
		{"refresh credential outside its margin", token(time.Hour).with(at(time.Hour+31*time.Second), 24*time.Hour), at(time.Hour), time.Minute, false, needRenew},
		{"session used within timeout less slack", session(10 * time.Minute), at(10*time.Minute - 30*time.Second), time.Hour, true, serveCached},
		{"session quiet past timeout less slack", session(10 * time.Minute), at(10*time.Minute - 30*time.Second + 1), 0, true, needProbe},
		{"session quiet, provider cannot probe", session(10 * time.Minute), at(10*time.Minute - 30*time.Second + 1), 0, false, needRenew},
		// The slack is at most half the timeout: a 2s session serves for 1s.
		{"short session within half its timeout", session(2 * time.Second), at(time.Second), 0, true, serveCached},
		{"short session past half its timeout", session(2 * time.Second), at(time.Second + 1), 0, true, needProbe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.verdict(tt.now, tt.need, tt.canProbe, defaults()); got != tt.want {
				t.Errorf("verdict = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	backoff := at(2 * time.Minute)
	tests := []struct {
		name  string
		r     request
		v     verdict
		h     held
		round int
		want  answer
	}{
		{"forced, though it would serve", request{force: true}, serveCached, token(time.Hour), maxRounds, goUpstream},
		{"the token serves", request{}, serveCached, token(time.Hour), maxRounds, fromCache},
		{"renewal due", request{}, needRenew, token(time.Hour), 0, goUpstream},
		{"backoff, shorter accepted", request{allowShorter: true}, needRenew, token(time.Hour), 0, shorter},
		{"backoff, shorter not accepted", request{}, needRenew, token(time.Hour), 0, goUpstream},
		{"no backoff, shorter accepted", request{allowShorter: true}, needRenew, token(time.Hour), -1, goUpstream},
		{"backoff, shorter accepted, token expired", request{allowShorter: true}, needRenew, token(time.Minute), 0, goUpstream},
		{"a fresh token fell short", request{gotFresh: true}, needRenew, token(time.Hour), 1, freshTooShort},
		{"a fresh token that may have idled out", request{gotFresh: true}, needProbe, token(time.Hour), 1, goUpstream},
		{"a fresh token, expired", request{gotFresh: true}, needRenew, token(time.Minute), 1, goUpstream},
		{"waited for enough calls", request{}, needRenew, token(time.Hour), maxRounds, tooManyRounds},
		{"one round short of that", request{}, needRenew, token(time.Hour), maxRounds - 1, goUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retryAt, round := backoff, tt.round
			if round < 0 { // a row without a backoff
				retryAt, round = time.Time{}, 0
			}
			if got := tt.h.answer(tt.r, tt.v, at(time.Minute), retryAt, round); got != tt.want {
				t.Errorf("answer = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRefreshable(t *testing.T) {
	dead := held{}.with(time.Time{}, 0).gone()
	tests := []struct {
		name string
		h    held
		now  time.Time
		want bool
	}{
		{"none held", token(time.Hour), t0, false},
		{"never expires", held{}.with(time.Time{}, 0), at(100 * time.Hour), true},
		{"known dead", dead, t0, false},
		{"further from expiry than the margin", held{}.with(at(time.Hour), time.Hour), at(time.Hour - 31*time.Second), true},
		{"exactly the margin from expiry", held{}.with(at(time.Hour), time.Hour), at(time.Hour - 30*time.Second), false},
		// The margin scales with the refresh lifetime: a tenth of 10s.
		{"short-lived, 2s from expiry", held{}.with(at(10*time.Second), 10*time.Second), at(8 * time.Second), true},
		{"short-lived, 1s from expiry", held{}.with(at(10*time.Second), 10*time.Second), at(9 * time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.refreshable(tt.now, defaults()); got != tt.want {
				t.Errorf("refreshable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIntent(t *testing.T) {
	tests := []struct {
		h      held
		v      verdict
		want   intent
		reason string
	}{
		{token(time.Hour), needProbe, intentProbe, "idle"},
		{held{}, needRenew, intentRenew, "empty"},
		{held{}.with(time.Time{}, 0), needRenew, intentRenew, "empty"},
		{token(time.Hour), needRenew, intentRenew, "expiring"},
	}
	for _, tt := range tests {
		if in, reason := tt.h.intent(tt.v); in != tt.want || reason != tt.reason {
			t.Errorf("intent(%v) holding access=%v = %v %q, want %v %q", tt.v, !tt.h.grant.Access.IsZero(), in, reason, tt.want, tt.reason)
		}
	}
}

func TestMargin(t *testing.T) {
	short := token(3 * time.Second)
	short.grant.Access = secret.Secret{}
	tests := []struct {
		name            string
		h               held
		s               *settings
		margin, slack   time.Duration
		wantFromOptions bool
	}{
		{"1h token", token(time.Hour), defaults(), 30 * time.Second, 0, false},
		{"3m token: a tenth", token(3 * time.Minute), defaults(), 18 * time.Second, 0, false},
		{"3s token: a tenth", token(3 * time.Second), defaults(), 300 * time.Millisecond, 0, false},
		{"no token: the configured margin", short, defaults(), 30 * time.Second, 0, false},
		{"configured 2m on a 1h token", token(time.Hour), newSettings(Options{SafetyMargin: 2 * time.Minute}), 2 * time.Minute, 0, false},
		{"session of unknown life", session(10 * time.Minute), defaults(), 30 * time.Second, 30 * time.Second, false},
		{"2s session: slack is half the timeout", session(2 * time.Second), defaults(), 30 * time.Second, time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.margin(tt.s); got != tt.margin {
				t.Errorf("margin = %v, want %v", got, tt.margin)
			}
			if got := tt.h.idleSlack(tt.s); got != tt.slack {
				t.Errorf("idleSlack = %v, want %v", got, tt.slack)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	both := token(time.Hour)
	both.grant.IdleTimeout = 10 * time.Minute
	kept := session(10 * time.Minute)
	kept.keepAliveUntil = at(time.Hour)
	keptShort := both
	keptShort.keepAliveUntil = at(2 * time.Hour)
	tests := []struct {
		name string
		h    held
		now  time.Time
		want time.Time
	}{
		{"hard expiry only", token(time.Hour), t0, at(time.Hour)},
		{"idle timeout only", session(10 * time.Minute), at(time.Minute), at(10 * time.Minute)},
		{"idle ends before the hard expiry", both, t0, at(10 * time.Minute)},
		{"kept alive beyond the idle period", kept, at(time.Minute), at(time.Hour)},
		{"kept alive, but it idled out first", kept, at(10 * time.Minute), at(10 * time.Minute)},
		{"kept alive, capped by the hard expiry", keptShort, t0, at(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.expiry(tt.now); !got.Equal(tt.want) {
				t.Errorf("expiry = %v, want %v", got.Sub(t0), tt.want.Sub(t0))
			}
		})
	}
}

func TestUnexpiredLastsHolds(t *testing.T) {
	tests := []struct {
		name                     string
		h                        held
		now                      time.Time
		d                        time.Duration
		unexpired, lasts, holdsG bool
	}{
		{"nothing", held{}, t0, 0, false, false, false},
		{"refresh credential only", held{}.with(time.Time{}, 0), t0, 0, false, false, true},
		{"valid for exactly d", token(time.Hour), at(50 * time.Minute), 10 * time.Minute, true, true, true},
		{"valid for 1ns less than d", token(time.Hour), at(50*time.Minute + 1), 10 * time.Minute, true, false, true},
		{"at its expiry", token(time.Hour), at(time.Hour), 0, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.unexpired(tt.now); got != tt.unexpired {
				t.Errorf("unexpired = %v, want %v", got, tt.unexpired)
			}
			if got := tt.h.lasts(tt.now, tt.d); got != tt.lasts {
				t.Errorf("lasts(%v) = %v, want %v", tt.d, got, tt.lasts)
			}
			if got := tt.h.holds(); got != tt.holdsG {
				t.Errorf("holds = %v, want %v", got, tt.holdsG)
			}
		})
	}
}

func TestLive(t *testing.T) {
	dead := token(time.Hour).with(time.Time{}, 0).gone()
	tests := []struct {
		name string
		h    held
		now  time.Time
		want bool
	}{
		{"nothing", held{}, t0, false},
		{"known dead", dead, t0, false},
		{"refresh credential that never expires", held{}.with(time.Time{}, 0), at(100 * time.Hour), true},
		{"refresh credential before its expiry", token(time.Hour).with(at(2*time.Hour), 2*time.Hour), at(2*time.Hour - 1), true},
		{"refresh credential expired, access still valid", token(3*time.Hour).with(at(2*time.Hour), 2*time.Hour), at(2 * time.Hour), false},
		{"access only, unexpired", token(time.Hour), at(time.Hour - 1), true},
		{"access only, expired", token(time.Hour), at(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.live(tt.now); got != tt.want {
				t.Errorf("live = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRefreshPoint(t *testing.T) {
	withMin := newSettings(Options{DefaultMinValidity: 10 * time.Minute})
	tests := []struct {
		name          string
		h             held
		refreshBefore time.Duration
		jitter        float64
		s             *settings
		want          time.Time // zero: none
		draws         int       // calls of the jitter source
	}{
		{"idle-timeout session: none", session(10 * time.Minute), 0, 0.5, defaults(), time.Time{}, 0},
		{"two thirds", token(time.Hour), 0, 0.5, defaults(), at(40 * time.Minute), 1},
		{"jittered early", token(time.Hour), 0, 0, defaults(), at(38*time.Minute + 48*time.Second), 1},
		{"jittered late", token(time.Hour), 0, 0.75, defaults(), at(40*time.Minute + 36*time.Second), 1},
		{"refresh_before", token(time.Hour), 15 * time.Minute, 0.5, defaults(), at(45 * time.Minute), 0},
		{"refresh_before as long as the life: two thirds", token(time.Hour), time.Hour, 0.5, defaults(), at(40 * time.Minute), 1},
		{"no later than expiry − margin", token(time.Hour), time.Second, 0.5, defaults(), at(time.Hour - 30*time.Second), 0},
		{"no later than expiry − margin − default min validity", token(time.Hour), time.Second, 0.5, withMin, at(time.Hour - 10*time.Minute - 30*time.Second), 0},
		{"no earlier than the receipt", token(time.Minute), 0, 0.5, withMin, t0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			draws := 0
			jitter := func() float64 { draws++; return tt.jitter }
			// Float arithmetic may leave the jittered point a few ns off.
			if got := tt.h.refreshPoint(tt.refreshBefore, jitter, tt.s); got.IsZero() != tt.want.IsZero() || got.Sub(tt.want).Abs() > time.Microsecond {
				t.Errorf("refresh point = %v after receipt, want %v", got.Sub(t0), tt.want.Sub(t0))
			}
			// Only the two-thirds point uses jitter; the source also feeds
			// the retry backoff, whose sequence a spare draw would shift.
			if draws != tt.draws {
				t.Errorf("jitter drawn %d times, want %d", draws, tt.draws)
			}
		})
	}
}

func TestInUse(t *testing.T) {
	tests := []struct {
		name          string
		h             held
		lastUsed, now time.Time
		want          bool
	}{
		{"not asked since the token arrived", token(time.Hour), t0, at(time.Minute), false},
		{"asked within one lifetime", token(time.Hour), at(time.Second), at(time.Hour + time.Second - 1), true},
		{"asked a lifetime ago", token(time.Hour), at(time.Second), at(time.Hour + time.Second), false},
		{"session: within one idle timeout", session(10 * time.Minute), at(time.Second), at(10*time.Minute + time.Second - 1), true},
		{"session: an idle timeout ago", session(10 * time.Minute), at(time.Second), at(10*time.Minute + time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.inUse(tt.lastUsed, tt.now); got != tt.want {
				t.Errorf("inUse = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDue(t *testing.T) {
	scheduled := token(time.Hour)
	scheduled.refreshAt = at(40 * time.Minute)
	withMin := newSettings(Options{DefaultMinValidity: 20 * time.Minute})
	tests := []struct {
		name     string
		h        held
		now      time.Time
		canProbe bool
		s        *settings
		want     intent
		reason   string
		ok       bool
	}{
		{"before the refresh point", scheduled, at(40*time.Minute - 1), true, defaults(), intentRenew, "", false},
		{"at the refresh point", scheduled, at(40 * time.Minute), true, defaults(), intentRenew, "proactive", true},
		{"no refresh point, still serving", token(time.Hour), at(59 * time.Minute), true, defaults(), intentRenew, "", false},
		{"no refresh point, within the margin", token(time.Hour), at(59*time.Minute + 30*time.Second + 1), true, defaults(), intentRenew, "proactive", true},
		{"within margin + default min validity", token(time.Hour), at(39*time.Minute + 30*time.Second + 1), true, withMin, intentRenew, "proactive", true},
		{"quiet session", session(10 * time.Minute), at(10 * time.Minute), true, defaults(), intentProbe, "idle", true},
		{"quiet session, cannot probe", session(10 * time.Minute), at(10 * time.Minute), false, defaults(), intentRenew, "proactive", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, reason, ok := tt.h.due(tt.now, tt.canProbe, tt.s)
			if ok != tt.ok || ok && (in != tt.want || reason != tt.reason) {
				t.Errorf("due = %v %q %v, want %v %q %v", in, reason, ok, tt.want, tt.reason, tt.ok)
			}
		})
	}
}

func TestRefreshDue(t *testing.T) {
	h := token(time.Hour)
	h.refreshAt = at(40 * time.Minute)
	forbidden := fmt.Errorf("refresh: %w", provider.ErrForbidden)
	unavailable := fmt.Errorf("refresh: %w", provider.ErrUnavailable)
	tests := []struct {
		name string
		h    held
		now  time.Time
		hl   health
		want bool
	}{
		{"no refresh point", token(time.Hour), at(59 * time.Minute), health{}, false},
		{"before the refresh point", h, at(40*time.Minute - 1), health{}, false},
		{"at the refresh point", h, at(40 * time.Minute), health{}, true},
		{"backoff runs", h, at(41 * time.Minute), health{retryAt: at(41*time.Minute + 1), lastErr: unavailable}, false},
		{"backoff over, last failure transient", h, at(41 * time.Minute), health{retryAt: at(41 * time.Minute), lastErr: unavailable}, true},
		{"last failure not transient", h, at(41 * time.Minute), health{lastErr: forbidden}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.refreshDue(tt.now, tt.hl); got != tt.want {
				t.Errorf("refreshDue = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeepAliveNeed(t *testing.T) {
	promised := session(10 * time.Minute)
	promised.keepAliveUntil = at(time.Hour + 30*time.Second)
	tests := []struct {
		name        string
		h           held
		minValidity time.Duration
		until       time.Time
		need        time.Duration
		more        bool
	}{
		{"no idle timeout", token(time.Hour), 2 * time.Hour, time.Time{}, 0, false},
		{"a hand-out covers it", session(10 * time.Minute), 9*time.Minute + 30*time.Second, at(10 * time.Minute), 10 * time.Minute, false},
		{"beyond one idle timeout", session(10 * time.Minute), 9*time.Minute + 30*time.Second + 1, at(10*time.Minute + 1), 10*time.Minute + 1, true},
		{"promised already", promised, time.Hour, at(time.Hour + 30*time.Second), time.Hour + 30*time.Second, false},
		{"beyond the promise", promised, time.Hour + 1, at(time.Hour + 30*time.Second + 1), time.Hour + 30*time.Second + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			until, need, more := tt.h.keepAliveNeed(t0, tt.minValidity, defaults())
			if !until.Equal(tt.until) || need != tt.need || more != tt.more {
				t.Errorf("keepAliveNeed = %v, %v, %v; want %v, %v, %v", until.Sub(t0), need, more, tt.until.Sub(t0), tt.need, tt.more)
			}
		})
	}
}

func TestKeepalivePeriod(t *testing.T) {
	promise := func(h held) held { h.keepAliveUntil = h.lastActive.Add(h.grant.IdleTimeout + 1); return h }
	unknown := session(unknownIdleFloor)
	unknown.grant.IdleUnknown = true
	tests := []struct {
		name       string
		h          held
		configured time.Duration
		want       time.Duration
	}{
		{"no idle timeout: as configured", token(time.Hour), 5 * time.Minute, 5 * time.Minute},
		{"no idle timeout, none configured", token(time.Hour), 0, 0},
		{"none configured, no promise", session(30 * time.Minute), 0, 0},
		{"none configured, a promise beyond the timeout", promise(session(30 * time.Minute)), 0, 10 * time.Minute},
		{"configured faster than a third", session(30 * time.Minute), 5 * time.Minute, 5 * time.Minute},
		{"configured faster than a third, a promise", promise(session(30 * time.Minute)), 5 * time.Minute, 5 * time.Minute},
		{"configured slower than a third: capped", session(30 * time.Minute), 20 * time.Minute, 10 * time.Minute},
		{"assumed timeout: configured stands", unknown, 5 * time.Minute, 5 * time.Minute},
		{"assumed timeout, a promise: a third", promise(unknown), 5 * time.Minute, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.keepalivePeriod(tt.configured); got != tt.want {
				t.Errorf("keepalivePeriod = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNoKeepalive(t *testing.T) {
	tests := []struct {
		canProbe, oneShot bool
		want              string
	}{
		{false, false, "this provider cannot keep it alive"},
		{false, true, "this provider cannot keep it alive"},
		{true, true, "nothing keeps it alive after this one-shot call"},
		{true, false, ""},
	}
	for _, tt := range tests {
		if got := noKeepalive(tt.canProbe, tt.oneShot); got != tt.want {
			t.Errorf("noKeepalive(%v, %v) = %q, want %q", tt.canProbe, tt.oneShot, got, tt.want)
		}
	}
}

func TestImpossible(t *testing.T) {
	tests := []struct {
		name                   string
		freshLife, minValidity time.Duration
		need                   time.Duration
		no                     bool
	}{
		{"lifetime not known yet", 0, 100 * time.Hour, 0, false},
		{"1h token, exactly its life", time.Hour, time.Hour - 30*time.Second, time.Hour, false},
		{"1h token, 1ns more", time.Hour, time.Hour - 30*time.Second + 1, time.Hour + 1, true},
		{"3s token, the margin scales", 3 * time.Second, 2700 * time.Millisecond, 3 * time.Second, false},
		{"3s token, 1ns more", 3 * time.Second, 2700*time.Millisecond + 1, 3*time.Second + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			need, no := impossible(tt.freshLife, tt.minValidity, defaults())
			if need != tt.need || no != tt.no {
				t.Errorf("impossible = %v, %v; want %v, %v", need, no, tt.need, tt.no)
			}
		})
	}
}

func TestState(t *testing.T) {
	expired := token(time.Hour).with(time.Time{}, 0)
	tests := []struct {
		name    string
		h       held
		now     time.Time
		hl      health
		want    State
		retryAt time.Time
	}{
		{"nothing", held{}, t0, health{}, StateEmpty, time.Time{}},
		{"valid", token(time.Hour), at(time.Minute), health{}, StateValid, time.Time{}},
		{"expired, refresh credential held", expired, at(time.Hour), health{}, StateExpired, time.Time{}},
		{"backoff before valid", token(time.Hour), at(time.Minute), health{retryAt: at(2 * time.Minute)}, StateBackoff, at(2 * time.Minute)},
		{"backoff over", token(time.Hour), at(2 * time.Minute), health{retryAt: at(2 * time.Minute)}, StateValid, time.Time{}},
		{"guard before backoff", held{}, t0, health{retryAt: at(time.Minute), guardRetryAt: at(time.Hour)}, StateRejected, at(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, retryAt := tt.h.state(tt.now, tt.hl)
			if st != tt.want || !retryAt.Equal(tt.retryAt) {
				t.Errorf("state = %v until %v, want %v until %v", st, retryAt, tt.want, tt.retryAt)
			}
		})
	}
}

func TestPromised(t *testing.T) {
	kept := session(10 * time.Minute)
	kept.keepAliveUntil = at(time.Hour)
	dropped := kept
	dropped.grant.Access = secret.Secret{}
	tests := []struct {
		name string
		h    held
		now  time.Time
		want time.Time
	}{
		{"kept alive", kept, at(time.Minute), at(time.Hour)},
		{"promise over", kept, at(time.Hour), time.Time{}},
		{"idled out: a promise not kept", kept, at(10 * time.Minute), time.Time{}},
		{"no access token", dropped, at(time.Minute), time.Time{}},
		{"no promise", session(10 * time.Minute), at(time.Minute), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.promised(tt.now); !got.Equal(tt.want) {
				t.Errorf("promised = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReceived(t *testing.T) {
	exp := at(24 * time.Hour)
	tests := []struct {
		name       string
		g          provider.Grant
		header     string
		tokenType  string
		value      string
		life, idle time.Duration
		accessExp  time.Time
	}{
		{"defaults to a bearer Authorization header", provider.Grant{Access: secret.New("a"), AccessLifetime: time.Hour},
			provider.HeaderAuthorization, "Bearer", "Bearer a", time.Hour, 0, at(time.Hour)},
		{"a token type of its own", provider.Grant{Access: secret.New("a"), TokenType: "DPoP", AccessLifetime: time.Hour},
			provider.HeaderAuthorization, "DPoP", "DPoP a", time.Hour, 0, at(time.Hour)},
		{"legacy Cloud Director header: no token type", provider.Grant{Access: secret.New("a"), HeaderName: provider.HeaderVCloudAuth, IdleTimeout: time.Minute},
			provider.HeaderVCloudAuth, "", "a", 0, time.Minute, time.Time{}},
		{"no lifetime reported: the default", provider.Grant{Access: secret.New("a")},
			provider.HeaderAuthorization, "Bearer", "Bearer a", defaultLifetime, 0, at(defaultLifetime)},
		{"unknown idle timeout: the floor", provider.Grant{Access: secret.New("a"), IdleUnknown: true},
			provider.HeaderAuthorization, "Bearer", "Bearer a", 0, unknownIdleFloor, time.Time{}},
		{"a reported idle timeout stands", provider.Grant{Access: secret.New("a"), IdleUnknown: true, IdleTimeout: 30 * time.Minute},
			provider.HeaderAuthorization, "Bearer", "Bearer a", 0, 30 * time.Minute, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := received(tt.g, t0, exp, "p", "vcf")
			if h.grant.HeaderName != tt.header || h.grant.TokenType != tt.tokenType || h.tok.HeaderName != tt.header ||
				h.tok.TokenType != tt.tokenType || h.tok.HeaderValue.Reveal() != tt.value {
				t.Errorf("header %q %q (hand-out %q %q), want %q %q", h.grant.HeaderName, h.grant.TokenType,
					h.tok.HeaderName, h.tok.TokenType, tt.header, tt.tokenType)
			}
			if h.lifetime != tt.life || h.grant.IdleTimeout != tt.idle || !h.accessExp.Equal(tt.accessExp) {
				t.Errorf("lifetime %v, idle %v, expiry %v; want %v, %v, %v", h.lifetime, h.grant.IdleTimeout, h.accessExp, tt.life, tt.idle, tt.accessExp)
			}
			if !h.acquiredAt.Equal(t0) || !h.lastActive.Equal(t0) || !h.refreshExp.Equal(exp) || h.dead ||
				!h.keepAliveUntil.IsZero() || !h.refreshAt.IsZero() {
				t.Errorf("times: acquired %v, active %v, refresh exp %v, dead %v, kept %v, refresh at %v",
					h.acquiredAt, h.lastActive, h.refreshExp, h.dead, h.keepAliveUntil, h.refreshAt)
			}
			if h.tok.Profile != "p" || h.tok.Provider != "vcf" || h.tok.Fingerprint != tt.g.Access.Fingerprint() ||
				!h.tok.Access.Equal(tt.g.Access) || !h.tok.ExpiresAt.IsZero() {
				t.Errorf("hand-out %+v", h.tok)
			}
		})
	}
}

func TestDropAccess(t *testing.T) {
	h := received(provider.Grant{Access: secret.New("a"), AccessLifetime: time.Hour, Refresh: secret.New("r")}, t0, at(time.Hour), "p", "vcf")
	h.refreshAt, h.keepAliveUntil = at(40*time.Minute), at(2*time.Hour)
	h.dropAccess()
	if !h.grant.Access.IsZero() || h.tok != (Token{}) || !h.accessExp.IsZero() || !h.refreshAt.IsZero() || !h.keepAliveUntil.IsZero() {
		t.Errorf("after dropAccess: access %v, hand-out %+v, expiry %v, refresh at %v, kept %v",
			!h.grant.Access.IsZero(), h.tok, h.accessExp, h.refreshAt, h.keepAliveUntil)
	}
	if h.grant.Refresh.IsZero() || !h.refreshExp.Equal(at(time.Hour)) {
		t.Error("dropAccess dropped the refresh credential")
	}
	if h.unexpired(t0) || !h.holds() {
		t.Error("a dropped access token still counts")
	}
}
