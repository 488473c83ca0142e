package keeper

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

func unavailable() error {
	return &provider.Error{Op: "login", Method: "POST", Path: "/v1/tokens", Status: 503, Kind: provider.ErrUnavailable}
}

// notSent is a transient login failure that provably never reached the
// server (a refused connection): the only kind retried within a call.
func notSent() error {
	return provider.NotSent(&provider.Error{Op: "login", Method: "POST", Path: "/v1/tokens", Kind: provider.ErrUnavailable,
		Message: "connection refused"})
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		n    int
		rand float64
		want time.Duration
	}{
		{0, 0.5, 200 * time.Millisecond},
		{1, 0.5, 400 * time.Millisecond},
		{3, 0.5, 1600 * time.Millisecond},
		{5, 0.5, 5 * time.Second},
		{64, 0.5, 5 * time.Second},
		{0, 0, 160 * time.Millisecond},
		{5, 0.999, 5998 * time.Millisecond},
	}
	for _, tt := range tests {
		b := backoff{base: retryBase, max: retryMax, rand: func() float64 { return tt.rand }}
		if got := b.delay(tt.n); got.Round(time.Millisecond) != tt.want {
			t.Errorf("delay(%d) with rand %v = %v, want %v", tt.n, tt.rand, got, tt.want)
		}
	}
}

// Rule 7: transient failures are retried with backoff inside the call
// (for a login: only those that never reached the server).
func TestTransientRetriedWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.loginErrs = []error{notSent(), notSent()}
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		t0 := time.Now()
		mustGet(t, k, GetOptions{})
		// three attempts of 500ms, waits of 200ms and 400ms between them
		if took := time.Since(t0); took != 2100*time.Millisecond {
			t.Errorf("Get took %v, want 2.1s", took)
		}
		if s := statusOf(t, k, "p"); s.Counts.Logins != 1 || s.Counts.LoginFailures != 2 || s.State != StateValid || s.LastError != "" {
			t.Errorf("status %+v", s)
		}
	})
}

// Rule 7: a non-transient failure is returned at once, classification kept.
func TestNonTransientNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.loginErrs = []error{&provider.Error{Op: "login", Status: 200, Message: "not JSON", Kind: provider.ErrProtocol}}
		k := newTestKeeper(t, f, Options{})
		_, err := k.Get(context.Background(), "p", GetOptions{})
		if !errors.Is(err, provider.ErrProtocol) || errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("Get: %v, want ErrProtocol", err)
		}
		if logins, _, _, _ := f.snapshot(); logins != 1 {
			t.Errorf("logins=%d, want 1 (no retry)", logins)
		}
		if s := statusOf(t, k, "p"); s.LastError != err.Error() {
			t.Errorf("status LastError %q, want %q", s.LastError, err)
		}
	})
}

// Rule 7: each caller gives up at its deadline; the shared call stops at
// CallTimeout; then the next Get tries again.
func TestTransientBoundedByDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		for range 100 {
			f.loginErrs = append(f.loginErrs, notSent())
		}
		k := newTestKeeper(t, f, Options{CallTimeout: 10 * time.Second, Rand: func() float64 { return 0.5 }})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if _, err := k.Get(ctx, "p", GetOptions{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get: %v, want the caller's deadline", err)
		}
		time.Sleep(20 * time.Second)
		logins, _, _, _ := f.snapshot()
		// 10s of attempts: 0.5+0.2+0.5+0.4+0.5+0.8+0.5+1.6+0.5+3.2+0.5 = 9.2s, then 5s > the rest
		if logins != 6 {
			t.Errorf("attempts in one call = %d, want 6", logins)
		}
		s := statusOf(t, k, "p")
		if s.State != StateEmpty || s.Counts.LoginFailures != 6 || s.LastError == "" {
			t.Errorf("status %+v", s)
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
		defer cancel2()
		_, err := k.Get(ctx2, "p", GetOptions{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("second Get: %v", err)
		}
		if l, _, _, _ := f.snapshot(); l != 7 {
			t.Errorf("a later Get did not start a new call: %d attempts", l)
		}
	})
}

// Rule 7: during an outage the cached token is served only to callers it
// satisfies (min validity + margin) or that accept a shorter-lived one,
// marked so; a caller it cannot satisfy waits while the call retries
// within its deadline and gets a fresh token once upstream answers.
func TestTransientServesOnlySatisfiedCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		first := mustGet(t, k, GetOptions{})
		time.Sleep(59*time.Minute + 40*time.Second) // 20s left: below the 30s margin
		f.set(func(f *fake) { f.refreshErrs = []error{unavailable(), unavailable(), unavailable()} })
		t0 := time.Now()
		tok := mustGet(t, k, GetOptions{AllowShorter: true})
		if tok.Fingerprint != first.Fingerprint || !tok.Shorter {
			t.Fatalf("AllowShorter: got the cached token %v, marked shorter %v; want both",
				tok.Fingerprint == first.Fingerprint, tok.Shorter)
		}
		if took := time.Since(t0); took != f.latency {
			t.Errorf("AllowShorter: the Get waited %v, want one failed attempt (%v)", took, f.latency)
		}
		synctest.Wait() // the first call decides not to retry before the strict Get could join it
		t1 := time.Now()
		strict := mustGet(t, k, GetOptions{})
		if strict.Fingerprint == first.Fingerprint || strict.Shorter {
			t.Fatal("a caller the cached token cannot satisfy got it")
		}
		// The first call ended with its one attempt (nobody needed more);
		// the strict Get's call fails twice, waiting 200ms and 400ms, and
		// succeeds with its third attempt of 500ms.
		if took := time.Since(t1); took != 2100*time.Millisecond {
			t.Errorf("the strict Get took %v, want the call's retries (2.1s)", took)
		}
		if got := time.Until(strict.ExpiresAt); got < time.Hour-time.Second {
			t.Errorf("fresh token expires in %v", got)
		}
		_, refreshes, _, _ := f.snapshot()
		if refreshes != 4 {
			t.Errorf("refreshes=%d, want 3 failures + 1 in one call", refreshes)
		}
	})
}

// Rule 7, case 1 of issue 10: a persistent outage fails a caller the
// cached token cannot satisfy with ErrUnavailable, naming the cause and
// the cached token's remaining life, never with the short token and nil.
func TestTransientNeverServesShortSilently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.accessTTL = 15 * time.Second // margin 1.5s
		k := newTestKeeper(t, f, Options{CallTimeout: 5 * time.Second, Rand: func() float64 { return 0.5 }})
		first := mustGet(t, k, GetOptions{})
		f.set(func(f *fake) {
			for range 100 {
				f.refreshErrs = append(f.refreshErrs, unavailable())
			}
		})
		time.Sleep(9 * time.Second) // 6s left
		// A caller the cached token satisfies is still served from it.
		if tok := mustGet(t, k, GetOptions{}); tok.Fingerprint != first.Fingerprint || tok.Shorter {
			t.Error("a satisfied caller was not served the cached token")
		}
		for _, tc := range []struct {
			name     string
			min      time.Duration
			deadline time.Duration
		}{
			{"caller's deadline", 5 * time.Second, 2 * time.Second},
			{"call timeout", 5 * time.Second, time.Minute},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			tok, err := k.Get(ctx, "p", GetOptions{MinValidity: tc.min})
			cancel()
			if err == nil {
				t.Fatalf("%s: got a token expiring in %v for a %v min validity", tc.name, time.Until(tok.ExpiresAt), tc.min)
			}
			if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), "the cached token expires in") ||
				!strings.Contains(err.Error(), "refresh access token") {
				t.Errorf("%s: %v; want unavailable, naming the cause and the cached token's life", tc.name, err)
			}
		}
	})
}

// Rule 7: once the cached token has expired, a transient failure is an
// error (after retries), still classified as unavailable.
func TestTransientAfterExpiryFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{CallTimeout: 5 * time.Second})
		mustGet(t, k, GetOptions{})
		time.Sleep(2 * time.Hour)
		f.set(func(f *fake) {
			for range 50 {
				f.refreshErrs = append(f.refreshErrs, unavailable())
			}
		})
		_, err := k.Get(context.Background(), "p", GetOptions{})
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("Get: %v, want ErrUnavailable", err)
		}
	})
}

// Rule 7: a background refresh that failed transiently is retried on the
// profile's timer with backoff, not only when a caller comes back.
func TestTransientBackgroundRefreshRetriedOnTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		first := mustGet(t, k, GetOptions{})
		time.Sleep(time.Minute)
		mustGet(t, k, GetOptions{}) // in use since the token arrived
		f.set(func(f *fake) { f.refreshErrs = []error{unavailable(), unavailable()} })
		// The proactive refresh is due 40 min after the login; its one
		// attempt ends 500 ms later. No Get from here on.
		time.Sleep(39*time.Minute + 600*time.Millisecond)
		if _, refreshes, _, _ := f.snapshot(); refreshes != 1 {
			t.Fatalf("refreshes=%d at the refresh point, want the one failed attempt", refreshes)
		}
		if s := statusOf(t, k, "p"); s.State != StateBackoff || s.Fingerprint != first.Fingerprint {
			t.Fatalf("status after a failed background refresh: %+v", s)
		}
		// Retries after 200 ms and 400 ms (+ 500 ms latency each).
		time.Sleep(5 * time.Second)
		s := statusOf(t, k, "p")
		if _, refreshes, _, _ := f.snapshot(); refreshes != 3 || s.State != StateValid || s.Fingerprint == first.Fingerprint {
			t.Errorf("5s later without Gets: refreshes=%d state=%s renewed=%v, want 3 attempts and a new token",
				refreshes, s.State, s.Fingerprint != first.Fingerprint)
		}
		if s.Counts.RefreshFailures != 2 || s.Counts.Refreshes != 1 {
			t.Errorf("counts %+v", s.Counts)
		}
	})
}

// A caller whose deadline passes while the shared call is still retrying
// learns why: the last attempt's error is in the message and errors.Is
// matches both the deadline and the attempt's classification, so that the
// server answers Unavailable with the cause.
func TestGaveUpNamesLastAttempt(t *testing.T) {
	refused := func() error {
		return provider.NotSent(&provider.Error{Op: "login", Method: "POST", Path: "/v1/tokens", Kind: provider.ErrUnavailable,
			Err: errors.New("dial tcp 127.0.0.1:9: connect: connection refused")})
	}
	tests := []struct {
		name    string
		latency time.Duration
		wait    time.Duration
		want    string
		isUnav  bool
	}{
		{"refused, retried", 0, 5 * time.Second,
			`profile "p": gave up waiting for upstream after 5s: last attempt: log in: POST /v1/tokens: ` +
				`dial tcp 127.0.0.1:9: connect: connection refused (upstream unavailable): context deadline exceeded`, true},
		{"first attempt unanswered", 10 * time.Second, time.Second,
			`profile "p": gave up waiting for upstream after 1s: context deadline exceeded`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake()
				f.latency = tt.latency
				for range 100 {
					f.loginErrs = append(f.loginErrs, refused())
				}
				k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
				ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
				defer cancel()
				_, err := k.Get(ctx, "p", GetOptions{})
				if err == nil || err.Error() != tt.want {
					t.Fatalf("Get: %v\nwant:     %s", err, tt.want)
				}
				if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, provider.ErrUnavailable) != tt.isUnav {
					t.Errorf("errors.Is: deadline %v, unavailable %v (want %v)",
						errors.Is(err, context.DeadlineExceeded), errors.Is(err, provider.ErrUnavailable), tt.isUnav)
				}
				// The status shows the cause while the call still retries.
				if s := statusOf(t, k, "p"); tt.isUnav && !strings.Contains(s.LastError, "connection refused") {
					t.Errorf("status LastError %q during the retries", s.LastError)
				}
			})
		})
	}
}

// A caller waiting on a retried call sees its progress in the status:
// attempts failed so far, when the next one starts, and the last cause.
func TestStatusShowsRetryProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.loginErrs = []error{notSent(), notSent(), notSent()}
		k := newTestKeeper(t, f, Options{Rand: func() float64 { return 0.5 }})
		done := make(chan struct{})
		go func() { mustGet(t, k, GetOptions{}); close(done) }()
		// attempts of 500ms, waits of 200ms, 400ms: the second attempt
		// fails at 1.2s, the third starts at 1.6s
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		s := statusOf(t, k, "p")
		if s.FailedAttempts != 2 || !s.NextAttemptAt.Equal(time.Now().Add(100*time.Millisecond)) || !strings.Contains(s.LastError, "connection refused") {
			t.Errorf("progress: %d failed, next at +%v, last error %q; want 2, +100ms, connection refused",
				s.FailedAttempts, time.Until(s.NextAttemptAt), s.LastError)
		}
		<-done
		if s := statusOf(t, k, "p"); s.FailedAttempts != 0 || !s.NextAttemptAt.IsZero() {
			t.Errorf("after the call: %d failed, next at %v; want none", s.FailedAttempts, s.NextAttemptAt)
		}
	})
}
