package vault

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"time"
)

// Vault (1.13+) locks an AppRole role, a userpass or an LDAP user out
// after 5 refused logins for 15 minutes, for every client of the role:
// one wrong secret_id rolled out to a fleet would lock the good runners
// out too. So a refused login is not sent again with the same
// credential until a backoff passes (DESIGN rule 6 for tokenkeeper's own
// login to Vault): 1 minute, doubling, at most 8 minutes. A credential
// that changes (a new secret_id in its file) is tried at once.
//
// The guard lives in the Client, in this process's memory: one per
// Vault address, mount and role (a Client has one of each). It keeps a
// keyed digest of the credential, never the value.
const (
	loginBackoffFirst = time.Minute
	loginBackoffMax   = 8 * time.Minute
)

// loginGuard remembers the last refused login of a Client.
type loginGuard struct {
	key []byte // HMAC key, random per Client
	// refused is the digest of the refused credential (nil: none), at
	// when it was refused, backoff how long it is held back.
	refused []byte
	at      time.Time
	backoff time.Duration
	cause   *Error // the refusal, repeated to the callers held back
}

func newLoginGuard() loginGuard {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return loginGuard{key: key}
}

// digest is the keyed digest of a login: its path and credential parts.
func (g *loginGuard) digest(parts ...string) []byte {
	m := hmac.New(sha256.New, g.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// holds reports whether a login with digest d must not be sent at now,
// and until when.
func (g *loginGuard) holds(d []byte, now time.Time) (time.Time, bool) {
	if g.refused == nil || !hmac.Equal(d, g.refused) {
		return time.Time{}, false
	}
	until := g.at.Add(g.backoff)
	return until, now.Before(until)
}

// refuse records that Vault refused the login with digest d at now: the
// same credential refused again doubles the backoff.
func (g *loginGuard) refuse(d []byte, now time.Time, cause *Error) {
	switch {
	case g.refused == nil || !hmac.Equal(d, g.refused):
		g.backoff = loginBackoffFirst
	default:
		g.backoff = min(2*g.backoff, loginBackoffMax)
	}
	g.refused, g.at, g.cause = d, now, cause
}

// accept forgets a refusal: the login succeeded.
func (g *loginGuard) accept() { g.refused, g.cause = nil, nil }
