package vcf

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// unsignedJWT builds a token with the given claims; the signature is not
// checked by the client.
func unsignedJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

// Issue 10 case 4: the access token's lifetime without iat is exp −
// receipt, and a token whose exp is not after its iat is refused rather
// than given the documented 60 minutes.
func TestLoginAccessLifetimeFromClaims(t *testing.T) {
	now := time.Now().Unix()
	tests := []struct {
		name   string
		claims string
		want   time.Duration // 0: refused as a protocol error
	}{
		{"exp and iat", fmt.Sprintf(`{"iat":%d,"exp":%d}`, now-100, now+500), 10 * time.Minute},
		{"exp without iat", fmt.Sprintf(`{"exp":%d}`, now+20), 20 * time.Second},
		{"exp before iat", fmt.Sprintf(`{"iat":%d,"exp":%d}`, now, now-60), 0},
		{"exp without iat, past", fmt.Sprintf(`{"exp":%d}`, now-5), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := unsignedJWT(tt.claims)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"accessToken":%q,"refreshToken":{"id":"0d6a3c1e-5b57-4b7e-9d0c-2b1f7a9e4c11"}}`, tok)
			}))
			defer srv.Close()
			p, err := New(Config{URL: srv.URL, HTTPClient: srv.Client(), Username: "u", Password: &staticSecret{v: "pw"}})
			if err != nil {
				t.Fatal(err)
			}
			g, err := p.Login(context.Background())
			if tt.want == 0 {
				if !errors.Is(err, provider.ErrProtocol) {
					t.Fatalf("login: %v, want a protocol error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			// exp is whole seconds: the lifetime from receipt is within 1s.
			if d := g.AccessLifetime - tt.want; d > time.Second || d < -time.Second {
				t.Errorf("lifetime %v, want about %v", g.AccessLifetime, tt.want)
			}
		})
	}
}
