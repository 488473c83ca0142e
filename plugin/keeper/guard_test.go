package keeper

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

func TestGuardDelay(t *testing.T) {
	tests := []struct {
		step int
		want time.Duration
	}{
		{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {5, 16 * time.Minute},
		{6, 30 * time.Minute}, {7, 30 * time.Minute}, {100, 30 * time.Minute},
	}
	for _, tt := range tests {
		if got := guardDelay(tt.step); got != tt.want {
			t.Errorf("guardDelay(%d) = %v, want %v", tt.step, got, tt.want)
		}
	}
}

// Rule 6: a rejected refresh costs exactly one login, and the token is
// then served from it.
func TestRefreshRejectedLogsInOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{})
		first := mustGet(t, k, GetOptions{})
		f.set(func(f *fake) { clear(f.refreshIDs) }) // an admin revoked it upstream
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				tok := mustGet(t, k, GetOptions{ForceRefresh: true})
				if tok.Fingerprint == first.Fingerprint {
					t.Error("forced Get returned the old token")
				}
			})
		}
		wg.Wait()
		// A grant replaced while thought alive is revoked in the
		// background: give that time to happen before counting.
		time.Sleep(time.Minute)
		logins, refreshes, revokes, _ := f.snapshot()
		if logins != 2 || refreshes != 1 || revokes != 0 {
			t.Errorf("logins=%d refreshes=%d revokes=%d, want 2/1/0", logins, refreshes, revokes)
		}
		if s := statusOf(t, k, "p"); s.Counts.RefreshFailures != 1 || s.Counts.Logins != 2 {
			t.Errorf("counts %+v", s.Counts)
		}
	})
}

// getAll runs n concurrent Gets and returns how many failed with a
// GuardError and how many with the upstream rejection itself.
func getAll(t *testing.T, k *Keeper, n int) (guarded, rejected int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := k.Get(context.Background(), "p", GetOptions{})
			mu.Lock()
			defer mu.Unlock()
			var ge *GuardError
			switch {
			case errors.As(err, &ge):
				guarded++
			case errors.Is(err, provider.ErrCredentialsRejected):
				rejected++
			default:
				t.Errorf("Get: %v, want a rejection", err)
			}
			if !errors.Is(err, provider.ErrCredentialsRejected) {
				t.Errorf("classification lost: %v", err)
			}
		})
	}
	wg.Wait()
	return guarded, rejected
}

// Rule 6: a wrong password reaches upstream once per backoff step or
// credential change, whatever the number of callers.
func TestLoginRejectedGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.password = "wrong"
		k := newTestKeeper(t, f, Options{})
		getAll(t, k, 50)
		var guarded int
		for range 200 {
			g, _ := getAll(t, k, 1)
			guarded += g
		}
		if logins, _, _, _ := f.snapshot(); logins != 1 || guarded != 200 {
			t.Fatalf("after 50 concurrent + 200 sequential Gets: logins=%d guarded=%d, want 1/200", logins, guarded)
		}
		s := statusOf(t, k, "p")
		if s.State != StateRejected || time.Until(s.RetryAt) > time.Minute || s.Counts.LoginFailures != 1 {
			t.Fatalf("status %+v", s)
		}

		time.Sleep(time.Minute)
		getAll(t, k, 50)
		if logins, _, _, _ := f.snapshot(); logins != 2 {
			t.Fatalf("after the 1 min step: logins=%d, want 2", logins)
		}
		time.Sleep(time.Minute) // the second step is 2 min: still refused
		getAll(t, k, 50)
		if logins, _, _, _ := f.snapshot(); logins != 2 {
			t.Fatalf("1 min into the 2 min step: logins=%d, want 2", logins)
		}

		// A changed credential is tried at once, unless the account had
		// two failed logins within the ceiling's window: then nothing is
		// tried until the window passes, whatever the secret.
		f.set(func(f *fake) { f.password = "also-wrong" })
		getAll(t, k, 50)
		if logins, _, _, _ := f.snapshot(); logins != 2 {
			t.Fatalf("after a credential change within the window: logins=%d, want 2", logins)
		}
		time.Sleep(70 * time.Second)
		getAll(t, k, 50)
		if logins, _, _, _ := f.snapshot(); logins != 3 {
			t.Fatalf("after a credential change: logins=%d, want 3", logins)
		}

		f.set(func(f *fake) { f.password = "right" })
		time.Sleep(CeilingWindow)
		mustGet(t, k, GetOptions{})
		if s := statusOf(t, k, "p"); s.State != StateValid || s.Counts.Logins != 1 || s.Counts.LoginFailures != 3 {
			t.Fatalf("after the right password: %+v", s)
		}
		// A success resets the backoff: the next rejection waits 1 min.
		f.set(func(f *fake) { f.password = "wrong"; clear(f.refreshIDs) })
		_, err := k.Get(context.Background(), "p", GetOptions{ForceRefresh: true})
		if !errors.Is(err, provider.ErrCredentialsRejected) {
			t.Fatalf("Get: %v", err)
		}
		if s := statusOf(t, k, "p"); !s.RetryAt.Equal(time.Now().Add(time.Minute)) {
			t.Errorf("retry at %v after a reset, want now + 1 min", time.Until(s.RetryAt))
		}
	})
}

// Rule 6: logging out does not reset the lockout guard: a rejected
// credential stays refused after Revoke, without an upstream call.
func TestGuardSurvivesRevoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.password = "wrong"
		k := newTestKeeper(t, f, Options{})
		if _, err := k.Get(t.Context(), "p", GetOptions{}); !errors.Is(err, provider.ErrCredentialsRejected) {
			t.Fatalf("Get: %v", err)
		}
		if err := k.Revoke(t.Context(), "p"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		var ge *GuardError
		if _, err := k.Get(t.Context(), "p", GetOptions{}); !errors.As(err, &ge) {
			t.Fatalf("Get after Revoke: %v, want a GuardError", err)
		}
		if logins, _, revokes, _ := f.snapshot(); logins != 1 || revokes != 0 {
			t.Errorf("logins=%d revokes=%d, want 1/0", logins, revokes)
		}
		if s := statusOf(t, k, "p"); s.State != StateRejected {
			t.Errorf("state %s after Revoke, want rejected", s.State)
		}
	})
}

func TestGuardErrorRoundsRetryAtUp(t *testing.T) {
	at := time.Date(2026, 11, 22, 11, 29, 44, 200_000_000, time.UTC)
	msg := (&GuardError{Profile: "p", RetryAt: at, Cause: errors.New("x")}).Error()
	if !strings.Contains(msg, "2026-11-22T11:29:45Z") {
		t.Fatalf("retry time not rounded up to the next second: %s", msg)
	}
	exact := time.Date(2026, 11, 22, 11, 29, 44, 0, time.UTC)
	if msg := (&GuardError{Profile: "p", RetryAt: exact, Cause: errors.New("x")}).Error(); !strings.Contains(msg, "2026-11-22T11:29:44Z") {
		t.Fatalf("a whole second must stay as it is: %s", msg)
	}
}

// The guard's decisions are pure functions of the record, the credential
// and the time.
func TestAdmit(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	a, b := credentialID("a"), credentialID("b")
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name    string
		r       GuardRecord
		cred    secret.Secret
		ok      bool
		retryAt time.Time
		ceiling bool
	}{
		{"empty", GuardRecord{}, a, true, time.Time{}, false},
		{"backoff, same secret", GuardRecord{Credential: a, Failures: 1, RetryAt: now.Add(time.Minute)}, a, false, now.Add(time.Minute), false},
		{"backoff, other secret", GuardRecord{Failures: 1, RetryAt: now.Add(time.Minute)}, b, true, time.Time{}, false},
		{"backoff passed", GuardRecord{Credential: a, Failures: 1, RetryAt: now}, a, true, time.Time{}, false},
		{"one recent attempt", GuardRecord{Attempts: []time.Time{ago(10 * time.Second)}}, b, true, time.Time{}, false},
		{"two recent attempts", GuardRecord{Attempts: []time.Time{ago(10 * time.Second), ago(100 * time.Second)}}, b, false,
			ago(100 * time.Second).Add(CeilingWindow), true},
		{"a pending one counts", GuardRecord{Attempts: []time.Time{ago(time.Second)}, Pending: ago(2 * time.Second)}, b, false,
			ago(2 * time.Second).Add(CeilingWindow), true},
		{"server's Retry-After, any secret", GuardRecord{ServerRetryAt: now.Add(time.Minute)}, b, false, now.Add(time.Minute), false},
		{"old attempts do not", GuardRecord{Attempts: []time.Time{ago(CeilingWindow), ago(time.Hour)}}, b, true, time.Time{}, false},
	}
	for _, tt := range tests {
		ref, ok := admit(tt.r, tt.cred, now)
		if ok != tt.ok || !ref.retryAt.Equal(tt.retryAt) || ref.ceiling != tt.ceiling {
			t.Errorf("%s: admit = %+v, %v; want retry at %v (ceiling %v), %v", tt.name, ref, ok, tt.retryAt, tt.ceiling, tt.ok)
		}
	}
}

func TestSettle(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	a := credentialID("a")
	started := now.Add(-time.Second)
	r := begin(GuardRecord{Attempts: []time.Time{now.Add(-time.Hour)}}, started)
	if !r.Pending.Equal(started) || len(r.Attempts) != 0 {
		t.Fatalf("begin: %+v (old attempts are dropped, the new one is pending)", r)
	}
	if got := settle(r, outcomeNotSent, a, "", 0, now); !got.IsZero() {
		t.Errorf("not sent: %+v, want nothing recorded", got)
	}
	if got := settle(r, outcomeMisdirected, a, "", 0, now); !got.IsZero() {
		t.Errorf("misdirected: %+v, want nothing recorded", got)
	}
	got := settle(r, outcomeUnknown, a, "unknown outcome: HTTP 502", 0, now)
	if got.Failures != 1 || got.Rejected || !got.Credential.Equal(a) || len(got.Attempts) != 1 ||
		!got.RetryAt.Equal(now.Add(time.Minute)) || !got.Pending.IsZero() {
		t.Errorf("unknown: %+v", got)
	}
	got = settle(begin(got, now), outcomeRejected, a, "rejected: HTTP 401", 10*time.Minute, now)
	if got.Failures != 2 || !got.Rejected || len(got.Attempts) != 2 || !got.RetryAt.Equal(now.Add(10*time.Minute)) {
		t.Errorf("rejected with Retry-After: %+v", got)
	}
	got = settle(begin(got, now), outcomeOK, a, "", 0, now)
	if got.Failures != 0 || !got.RetryAt.IsZero() || len(got.Attempts) != 2 || !got.Pending.IsZero() {
		t.Errorf("success: %+v, want the backoff gone and the ceiling's attempts kept", got)
	}
}

// The record's outcome class carries no upstream text: a status and an
// identifier-only code, never a message.
func TestOutcomeClass(t *testing.T) {
	tests := []struct {
		o    outcome
		err  error
		want string
	}{
		{outcomeRejected, &provider.Error{Status: 401, Code: "BAD_CREDENTIALS", Message: "Invalid password hunter2"}, "rejected: HTTP 401 BAD_CREDENTIALS"},
		{outcomeRejected, &provider.Error{Status: 400, Code: "got hunter2"}, "rejected: HTTP 400"},
		{outcomeUnknown, &provider.Error{Message: "connection reset", Err: errors.New("read: reset")}, "unknown outcome: connection reset after sending"},
		{outcomeUnknown, errors.New("upstream said hunter2"), "unknown outcome"},
	}
	for _, tt := range tests {
		if got := outcomeClass(tt.o, tt.err); got != tt.want {
			t.Errorf("outcomeClass(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// AccountFor names an API key's or token's account by the credential
// sent, and leaves every other account as it is.
func TestAccountFor(t *testing.T) {
	cred := credentialID("token")
	keyed := provider.Account{Provider: "vcd", Origin: "https://vcd.test:443", Kind: provider.KindAPIToken}
	if got := AccountFor(keyed, cred); !got.Material.Equal(cred) || !NamedByCredential(keyed) {
		t.Fatalf("API token: %v named by %v", got, got.Material)
	}
	own := keyed
	own.Material = credentialID("file")
	if got := AccountFor(own, cred); !got.Material.Equal(own.Material) || NamedByCredential(own) {
		t.Fatal("a keyed account with material of its own was renamed")
	}
	u := provider.Account{Provider: "vcf", Origin: "https://sddc.test:443", Kind: provider.KindUser, Principal: "alice"}
	if got := AccountFor(u, cred); !got.Material.IsZero() || NamedByCredential(u) {
		t.Fatal("a user account was named by the credential")
	}
}

// A refusal names the remedy of the guard that refused: the local reset
// by default, the composition's own when it sets Options.GuardRemedy (a
// local reset does nothing for a guard kept elsewhere).
func TestGuardRemedy(t *testing.T) {
	rejected := &provider.Error{Op: "login", Status: 401, Kind: provider.ErrCredentialsRejected}
	tests := []struct {
		name   string
		remedy func(string) string
		want   string
	}{
		{"default", nil, "tokenkeeper guard reset --profile p"},
		{"composition's", func(p string) string { return "write the fixed secret to engine/profiles/" + p }, "write the fixed secret to engine/profiles/p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.loginErrs = []error{rejected}
				k := newTestKeeper(t, f, Options{GuardRemedy: tt.remedy})
				if _, err := k.Get(context.Background(), "p", GetOptions{}); err == nil {
					t.Fatal("rejected login succeeded")
				}
				_, err := k.Get(context.Background(), "p", GetOptions{})
				var ge *GuardError
				if !errors.As(err, &ge) {
					t.Fatalf("second Get: %v, want a GuardError", err)
				}
				msg := err.Error()
				if !strings.Contains(msg, tt.want) {
					t.Fatalf("refusal %q does not name %q", msg, tt.want)
				}
				if tt.remedy != nil && strings.Contains(msg, "guard reset") {
					t.Fatalf("refusal %q names the local reset", msg)
				}
			})
		})
	}
}
