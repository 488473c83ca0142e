package sim

import (
	"fmt"
	"time"
)

// Session is what the session-based simulators (Cloud Director, vCenter)
// keep of a login besides whose it is: when it was made and when it was
// last used.
type Session struct {
	Created  time.Time
	LastUsed time.Time
}

// Alive reports whether the session still lives at now. Both products end
// a session idle after its last request or absolute after its login,
// whichever comes first.
func (s *Session) Alive(now time.Time, idle, absolute time.Duration) bool {
	return now.Before(s.LastUsed.Add(idle)) && now.Before(s.Created.Add(absolute))
}

// CheckSessionExpiry checks what (it expires nothing) for Backend.Expire
// on a product whose only credentials are sessions (no refresh tokens of
// its own): "sessions", "access" and "all" each end every session;
// anything else is an error naming product.
func CheckSessionExpiry(what, product string) error {
	switch what {
	case "sessions", "access", "all":
		return nil
	}
	return fmt.Errorf("cannot expire %q: %s knows sessions, access, all", what, product)
}
