package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// Progress of a call waiting on upstream: after progressQuiet without an
// answer, the caller polls the profile's status every progressEvery and
// prints a line for each attempt that failed since the last line.
const (
	progressQuiet = 2 * time.Second
	progressEvery = 500 * time.Millisecond
)

// statusSource is what progress reads: a *host.Client, of the agent or
// of an in-process keeper.
type statusSource interface {
	Profiles(ctx context.Context) ([]host.ProfileStatus, error)
}

// progress prints, on w, one line per retry of the upstream call a caller
// waits on: `waiting for URL: cause (attempt N, next in D)`. The agent
// has no channel to push events: the caller polls the status it already
// serves (failed attempts, next attempt, last error).
type progress struct {
	src     statusSource
	profile string
	w       io.Writer
	// quiet and every: progressQuiet and progressEvery; tests shorten them.
	quiet, every time.Duration
}

// watch polls until the returned stop is called; stop waits until the
// poller has ended, so no line follows the caller's own output.
func (p progress) watch(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.poll(ctx)
	}()
	return func() { cancel(); wg.Wait() }
}

func (p progress) poll(ctx context.Context) {
	t := time.NewTimer(p.quiet)
	defer t.Stop()
	shown := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if st, ok := p.status(ctx); ok && st.FailedAttempts > shown {
			shown = st.FailedAttempts
			fmt.Fprintf(p.w, "tokenkeeper: %s\n", progressLine(st, time.Now()))
		}
		t.Reset(p.every)
	}
}

func (p progress) status(ctx context.Context) (host.ProfileStatus, bool) {
	all, err := p.src.Profiles(ctx)
	if err != nil {
		return host.ProfileStatus{}, false // progress is a courtesy: the call itself reports
	}
	for _, s := range all {
		if s.Profile == p.profile {
			return s, true
		}
	}
	return host.ProfileStatus{}, false
}

// progressLine is `waiting for https://sddc: connection refused (attempt
// 3, next in 4s)`: the profile's URL, the innermost cause of the last
// failure (the operation and the classification are the same on every
// line), and the retry schedule.
func progressLine(s host.ProfileStatus, now time.Time) string {
	cause := strings.TrimSuffix(s.LastError, " (upstream unavailable)")
	if i := strings.LastIndex(cause, ": "); i >= 0 {
		cause = cause[i+2:]
	}
	next := ""
	if d := s.NextAttemptAt.Sub(now); d > 0 {
		next = ", next in " + roundDelay(d).String()
	}
	return fmt.Sprintf("waiting for %s: %s (attempt %d%s)", s.URL, cause, s.FailedAttempts, next)
}

// roundDelay keeps a delay readable: 4s, 1.6s, 300ms.
func roundDelay(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}
