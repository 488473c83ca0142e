package provider

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrNotJWT: the token is not a JWT carrying exp and iat (or nbf).
var ErrNotJWT = errors.New("token is not a JWT with exp and iat")

// JWTLifetime returns how long a JWT lives by its own claims: exp − iat,
// or exp − nbf without iat. The signature is not verified — the client
// only needs the schedule, and the server remains the judge — and the
// result never depends on the local clock, so server clock skew does not
// matter. Errors never quote the token.
func JWTLifetime(token string) (time.Duration, error) {
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil {
		return 0, ErrNotJWT
	}
	if c.ExpiresAt == nil {
		return 0, ErrNotJWT
	}
	start := c.IssuedAt
	if start == nil {
		start = c.NotBefore
	}
	if start == nil {
		return 0, ErrNotJWT
	}
	d := c.ExpiresAt.Sub(start.Time)
	if d <= 0 {
		return 0, ErrNotJWT
	}
	return d, nil
}
