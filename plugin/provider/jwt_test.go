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
	tests := []struct {
		name  string
		token string
		want  time.Duration
	}{
		{"exp-iat", fakeJWT(`{"iat":1000,"exp":4600}`), time.Hour},
		{"exp-nbf without iat", fakeJWT(`{"nbf":1000,"exp":1300}`), 5 * time.Minute},
		{"iat wins over nbf", fakeJWT(`{"iat":1000,"nbf":900,"exp":1600}`), 10 * time.Minute},
		{"fractional", fakeJWT(`{"iat":1000.5,"exp":1060.5}`), time.Minute},
		{"server clock far off", fakeJWT(`{"iat":100,"exp":3700}`), time.Hour},
		{"aud as array", fakeJWT(`{"iat":0,"exp":60,"aud":["a","b"]}`), time.Minute},
		{"no exp", fakeJWT(`{"iat":1000}`), 0},
		{"no iat or nbf", fakeJWT(`{"exp":1000}`), 0},
		{"exp before iat", fakeJWT(`{"iat":1000,"exp":900}`), 0},
		{"not a JWT", "0123456789abcdef0123456789abcdef", 0},
		{"bad payload", "eyJhbGciOiJIUzI1NiJ9.!!!.sig", 0},
		{"empty", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := JWTLifetime(tc.token)
			if tc.want == 0 {
				if !errors.Is(err, ErrNotJWT) {
					t.Fatalf("got %v, %v; want ErrNotJWT", got, err)
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
