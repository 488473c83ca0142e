package exec

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// NoAnswer is the message of a call whose caller gave up (ctxErr, the
// context's error) after waited, before tokenkeeper answered, under the
// profile when there is one: `profile "x": no answer from tokenkeeper
// within 5s`. Every client says it so: the Go host and the front alike.
func NoAnswer(profile string, waited time.Duration, ctxErr error) string {
	waited = roundWait(waited)
	msg := fmt.Sprintf("canceled after %s, before tokenkeeper answered", waited)
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		msg = fmt.Sprintf("no answer from tokenkeeper within %s", waited)
	}
	if profile != "" {
		msg = fmt.Sprintf("profile %q: %s", profile, msg)
	}
	return msg
}

// roundWait keeps a waited duration readable: 5s, not 4.999871234s.
func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
