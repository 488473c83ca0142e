package keeper

import (
	"context"
	"errors"
	"testing"
)

// TestReleaseRunsOnceAtStop: what the providers share (a Vault token
// tokenkeeper logged in for) is let go of when the keeper stops, by Close
// or Abandon, once, after the profiles, and its error is Close's.
func TestReleaseRunsOnceAtStop(t *testing.T) {
	for _, stop := range []string{"Close", "Abandon"} {
		t.Run(stop, func(t *testing.T) {
			f := newFake()
			calls := 0
			revokesAtRelease := -1
			errRelease := errors.New("release failed")
			k := newTestKeeper(t, f, Options{Release: func(context.Context) error {
				calls++
				_, _, revokesAtRelease, _ = f.snapshot()
				return errRelease
			}})
			mustGet(t, k, GetOptions{})
			ctx := context.Background()
			stopFn := map[string]func(context.Context) error{"Close": k.Close, "Abandon": k.Abandon}[stop]
			if err := stopFn(ctx); !errors.Is(err, errRelease) {
				t.Fatalf("%s = %v, want the release error", stop, err)
			}
			_ = k.Close(ctx)
			_ = k.Abandon(ctx)
			if calls != 1 {
				t.Fatalf("Release ran %d times, want 1", calls)
			}
			if stop == "Close" && revokesAtRelease != 1 {
				t.Fatalf("Release ran with %d revocations done, want it after the profile's (1)", revokesAtRelease)
			}
		})
	}
}
