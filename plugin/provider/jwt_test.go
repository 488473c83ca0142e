package provider

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func fakeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestJWTLifetime(t *testing.T) {
	received := time.Unix(1000, 0) // the local clock when the token arrived
	tests := []struct {
		name    string
		token   string
		want    time.Duration
		wantErr error
	}{
		{"exp-iat", fakeJWT(`{"iat":1000,"exp":4600}`), time.Hour, nil},
		{"exp-nbf without iat", fakeJWT(`{"nbf":1000,"exp":1300}`), 5 * time.Minute, nil},
		{"iat wins over nbf", fakeJWT(`{"iat":1000,"nbf":900,"exp":1600}`), 10 * time.Minute, nil},
		{"fractional", fakeJWT(`{"iat":1000.5,"exp":1060.5}`), time.Minute, nil},
		{"server clock far off", fakeJWT(`{"iat":100,"exp":3700}`), time.Hour, nil},
		{"aud as array", fakeJWT(`{"iat":0,"exp":60,"aud":["a","b"]}`), time.Minute, nil},
		// Issue 10 case 4: exp alone lives until exp by the local clock.
		{"exp without iat or nbf", fakeJWT(`{"exp":1020}`), 20 * time.Second, nil},
		{"exp without iat, already past", fakeJWT(`{"exp":990}`), 0, ErrJWTLifetime},
		{"exp without iat, at receipt", fakeJWT(`{"exp":1000}`), 0, ErrJWTLifetime},
		{"exp before iat", fakeJWT(`{"iat":1000,"exp":900}`), 0, ErrJWTLifetime},
		{"exp equal to iat", fakeJWT(`{"iat":1000,"exp":1000}`), 0, ErrJWTLifetime},
		{"exp before nbf", fakeJWT(`{"nbf":1000,"exp":999}`), 0, ErrJWTLifetime},
		{"no exp", fakeJWT(`{"iat":1000}`), 0, ErrNotJWT},
		{"not a JWT", "0123456789abcdef0123456789abcdef", 0, ErrNotJWT},
		{"bad payload", "eyJhbGciOiJIUzI1NiJ9.!!!.sig", 0, ErrNotJWT},
		{"empty", "", 0, ErrNotJWT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := JWTLifetime(tc.token, received)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != 0 {
					t.Fatalf("got %v, %v; want %v", got, err, tc.wantErr)
				}
				if tc.token != "" && strings.Contains(err.Error(), tc.token) {
					t.Fatal("error quotes the token")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
