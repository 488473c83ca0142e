package provider

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrNotJWT: the token is not a JWT carrying exp.
var ErrNotJWT = errors.New("token is not a JWT with exp")

// ErrJWTLifetime: the JWT's claims give it no life: exp is not after iat
// (or nbf), or, without either, exp has passed when the token arrived.
// A token like that must not be handed out, nor given a default lifetime.
var ErrJWTLifetime = errors.New("token's exp leaves it no lifetime")

// JWTLifetime returns how long a JWT lives by its own claims: exp − iat,
// or exp − nbf without iat — both on the server's clock, so server clock
// skew does not matter. Without iat and nbf it is exp − received, the
// local time the token arrived (only then does the local clock count).
// The signature is not verified: the client only needs the schedule, and
// the server remains the judge. A token without exp is ErrNotJWT (the
// caller may assume a documented lifetime); one whose claims leave it no
// life is ErrJWTLifetime. Errors never quote the token.
func JWTLifetime(token string, received time.Time) (time.Duration, error) {
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
	var d time.Duration
	if start == nil {
		d = c.ExpiresAt.Sub(received)
	} else {
		d = c.ExpiresAt.Sub(start.Time)
	}
	if d <= 0 {
		return 0, ErrJWTLifetime
	}
	return d, nil
}
