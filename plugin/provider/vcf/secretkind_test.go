package vcf

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// TestUnreadableSecretKeepsItsSourceClass: a password whose source is
// down (a sealed Vault) or refuses the read (a Vault policy) fails the
// login as unavailable or forbidden — exit 5 or 4, not 2 — and as never
// sent, so the lockout guard does not count it; any other unreadable
// secret stays bad configuration.
func TestUnreadableSecretKeepsItsSourceClass(t *testing.T) {
	tests := []struct {
		name   string
		cause  error
		want   error
		unsent bool
	}{
		{"sealed vault", provider.ErrUnavailable, provider.ErrUnavailable, true},
		{"policy without read", provider.ErrForbidden, provider.ErrForbidden, true},
		{"missing file", secret.ErrNotFound, provider.ErrBadConfig, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw := &staticSecret{err: &secret.Error{Ref: "vault secret/data/x field password", Err: fmt.Errorf("vault read: %w", tt.cause)}}
			p, err := New(Config{URL: "https://sddc.test", Username: adminUser, Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Login(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("Login error %v is not %v", err, tt.want)
			}
			if tt.want != provider.ErrBadConfig && errors.Is(err, provider.ErrBadConfig) {
				t.Fatalf("Login error %v is also bad configuration, which the classifier takes first", err)
			}
			if got := errors.Is(err, provider.ErrNotSent); got != tt.unsent {
				t.Fatalf("ErrNotSent = %v, want %v", got, tt.unsent)
			}
			_, cerr := p.Credential(context.Background())
			if !errors.Is(cerr, tt.want) {
				t.Fatalf("Credential error %v is not %v", cerr, tt.want)
			}
		})
	}
}
