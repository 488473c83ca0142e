package vcd

import (
	"context"
	"errors"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// unreadableSecret is a Resolver whose source fails, like a password
// command exiting non-zero.
type unreadableSecret struct{}

func (unreadableSecret) Resolve(context.Context) (secret.Secret, error) {
	return secret.Secret{}, &secret.Error{Ref: "command false", Err: secret.ErrCommandFailed}
}

// TestCredentialUnreadableIsBadConfig: a credential whose source cannot be
// read is bad configuration, as in vcf, so every caller classifies it
// alike; a read cut short by the caller's context is not.
func TestCredentialUnreadableIsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"password", Config{Username: "u", Password: unreadableSecret{}}},
		{"api token", Config{APIToken: unreadableSecret{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.URL, tt.cfg.Org = "https://vcd.example", "acme"
			p, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Credential(context.Background())
			var se *secret.Error
			if !errors.Is(err, provider.ErrBadConfig) || !errors.As(err, &se) {
				t.Fatalf("Credential = %v, want ErrBadConfig wrapping the *secret.Error", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err = p.Credential(ctx); errors.Is(err, provider.ErrBadConfig) {
				t.Fatalf("canceled Credential = %v, must not be ErrBadConfig", err)
			}
		})
	}
}
