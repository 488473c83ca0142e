package vcd

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// jwtLifetime is exp−iat (or exp−nbf) of an unverified JWT.
// TODO(vcd): switch to provider.JWTLifetime once the shared helper lands.
func jwtLifetime(tok string) (time.Duration, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return 0, errors.New("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return 0, errors.New("not a JWT")
	}
	var c struct{ Exp, Iat, Nbf float64 }
	if err := json.Unmarshal(raw, &c); err != nil || c.Exp == 0 {
		return 0, errors.New("JWT without exp")
	}
	start := c.Iat
	if start == 0 {
		start = c.Nbf
	}
	if start == 0 || c.Exp <= start {
		return 0, errors.New("JWT without a usable iat/nbf")
	}
	return time.Duration((c.Exp - start) * float64(time.Second)), nil
}
