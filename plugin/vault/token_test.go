package vault

import (
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

func TestTokenNext(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	v := secret.New("hvs.canary")
	created := func(ttl time.Duration, renewable bool) token {
		return token{value: v, created: true, ttl: ttl, renewable: renewable, obtained: t0}
	}
	tests := []struct {
		name string
		tok  token
		at   time.Duration
		want step
	}{
		{"none yet", token{}, 0, stepLogin},
		{"the user's is read each time", token{value: v}, 0, stepLogin},
		{"fresh", created(time.Hour, true), 10 * time.Minute, stepUse},
		{"past two thirds, renewable", created(time.Hour, true), 41 * time.Minute, stepRenew},
		{"past two thirds, not renewable", created(time.Hour, false), 41 * time.Minute, stepUse},
		{"inside the margin", created(time.Hour, true), 59*time.Minute + 31*time.Second, stepLogin},
		{"expired", created(time.Hour, true), 2 * time.Hour, stepLogin},
		{"short token, margin a tenth", created(10*time.Second, false), 9*time.Second + 100*time.Millisecond, stepLogin},
		{"short token, before the margin", created(10*time.Second, false), 8 * time.Second, stepUse},
		{"never expires", created(0, false), 1000 * time.Hour, stepUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tok.next(t0.Add(tt.at)); got != tt.want {
				t.Fatalf("next at +%s = %d, want %d", tt.at, got, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tok := &secret.Ref{Env: "VAULT_TOKEN"}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"token", Config{Address: "https://vault.test:8200", Token: tok}, true},
		{"loopback http", Config{Address: "http://127.0.0.1:8200", Token: tok}, true},
		{"plain http elsewhere", Config{Address: "http://vault.test:8200", Token: tok}, false},
		{"no address", Config{Token: tok}, false},
		{"no auth", Config{Address: "https://vault.test"}, false},
		{"two methods", Config{Address: "https://vault.test", Token: tok, JWT: &JWT{Role: "r", Token: tok}}, false},
		{"approle without secret id", Config{Address: "https://vault.test", AppRole: &AppRole{RoleID: tok}}, false},
		{"jwt without role", Config{Address: "https://vault.test", JWT: &JWT{Token: tok}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestWithEnv(t *testing.T) {
	env := map[string]string{EnvAddr: "https://vault.test:8200", EnvNamespace: "team", EnvCACert: "/ca.pem"}
	getenv := func(k string) string { return env[k] }
	c := Config{}.WithEnv(getenv, "/home/u")
	if c.Address != env[EnvAddr] || c.Namespace != "team" || c.CACert != "/ca.pem" {
		t.Fatalf("WithEnv = %+v", c)
	}
	if c.Token == nil || c.Token.File != "/home/u/.vault-token" {
		t.Fatalf("without VAULT_TOKEN the token is ~/.vault-token, got %v", c.Token)
	}
	env[EnvToken] = "hvs.canary"
	if c := (Config{}).WithEnv(getenv, "/home/u"); c.Token == nil || c.Token.Env != EnvToken {
		t.Fatalf("with VAULT_TOKEN set the token is env VAULT_TOKEN, got %v", c.Token)
	}
	own := Config{Address: "https://other.test", AppRole: &AppRole{}}.WithEnv(getenv, "/home/u")
	if own.Address != "https://other.test" || own.Token != nil {
		t.Fatalf("the file's settings win over the environment: %+v", own)
	}
}
