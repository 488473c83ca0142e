package provider

import (
	"errors"
	"time"
)

// ErrMinValidity: an upstream keeper (a Relay's: the Vault engine) says
// its tokens do not live as long as asked. The keeper reports it as its
// own ErrMinValidity.
var ErrMinValidity = errors.New("upstream: longer than its tokens live")

// GuardRefusal is an upstream keeper's lockout guard not trying the
// login (the Vault engine's 423): the credential there failed recently.
// The keeper reports it as a refusal of its own guard (its GuardError,
// naming Upstream), so that the exit code and retry time are those of a
// local refusal.
type GuardRefusal struct {
	// Upstream names the keeper: "the Vault engine at …".
	Upstream string
	// RetryAt is the upstream guard's next attempt (zero: not said).
	RetryAt time.Time
	// Cause is the upstream's answer, without its code prefix.
	Cause error
}

func (e *GuardRefusal) Error() string {
	return "login not attempted by " + e.Upstream + " (its lockout guard): " + e.Cause.Error()
}

// Unwrap returns the upstream's answer.
func (e *GuardRefusal) Unwrap() error { return e.Cause }
