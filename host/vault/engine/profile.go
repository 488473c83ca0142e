package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Storage layout of a mount. Secrets and the guard are seal-wrapped
// (Paths.SealWrapStorage); a profile's settings are not secret.
const (
	profilePrefix = "config/profile/"
	secretPrefix  = "config/secret/"
	guardPrefix   = "guard/"
)

// Providers a profile may name.
const (
	providerVCF = "vcf"
	providerVCD = "vcd"
)

// Credential kinds: which one secret a profile logs in with.
const (
	credPassword       = "password"
	credAPIKey         = "api_key"
	credAPIToken       = "api_token"
	credServiceAccount = "service_account"
)

// profileConfig is what profiles/<name> stores and reads back: nothing
// secret. Credential names the kind of the write-only secret it holds.
type profileConfig struct {
	Provider      string        `json:"provider"`
	URL           string        `json:"url"`
	CAPEM         string        `json:"ca_pem,omitempty"`
	Username      string        `json:"username,omitempty"`
	Org           string        `json:"org,omitempty"`
	APIVersion    string        `json:"api_version,omitempty"`
	RefreshBefore time.Duration `json:"refresh_before,omitempty"`
	Credential    string        `json:"credential"`
}

// profileSecret is the one login secret of a profile, kept apart from
// its settings so that a read of profiles/<name> never loads it, and so
// that a rotated service-account token replaces it alone.
type profileSecret struct {
	Value string `json:"value"`
}

func (s profileSecret) secret() secret.Secret { return secret.New(s.Value) }

// errNoProfile: profiles/<name> holds nothing.
var errNoProfile = errors.New("no such profile")

func loadConfig(ctx context.Context, s logical.Storage, name string) (profileConfig, error) {
	var c profileConfig
	if err := getJSON(ctx, s, profilePrefix+name, &c); err != nil {
		return profileConfig{}, fmt.Errorf("profile %q: %w", name, err)
	}
	return c, nil
}

func loadSecret(ctx context.Context, s logical.Storage, name string) (secret.Secret, error) {
	var v profileSecret
	if err := getJSON(ctx, s, secretPrefix+name, &v); err != nil {
		return secret.Secret{}, err
	}
	if v.Value == "" {
		return secret.Secret{}, fmt.Errorf("profile %q: its %w", name, errNoSecret)
	}
	return v.secret(), nil
}

// errNoSecret: a profile's secret entry is missing or empty.
var errNoSecret = errors.New("secret is missing from the engine's storage; write it again to profiles/<name>")

func storeSecret(ctx context.Context, s logical.Storage, name string, v secret.Secret) error {
	return putJSON(ctx, s, secretPrefix+name, profileSecret{Value: v.Reveal()})
}

func getJSON(ctx context.Context, s logical.Storage, key string, v any) error {
	e, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("could not read the engine's storage: %w", err)
	}
	if e == nil {
		return errNoProfile
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		// The value may be a secret: never quote it.
		return fmt.Errorf("the engine's storage entry %s is corrupt (%T)", key, err)
	}
	return nil
}

func putJSON(ctx context.Context, s logical.Storage, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("could not encode %s: %w", key, err)
	}
	if err := s.Put(ctx, &logical.StorageEntry{Key: key, Value: data, SealWrap: true}); err != nil {
		return fmt.Errorf("could not write the engine's storage: %w", err)
	}
	return nil
}
