package engine

import (
	"context"
	"fmt"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcd"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcf"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// build wires the keeper of one profile: its provider over the engine's
// storage (the secret is read there at every login, as a secret
// reference would be) and the engine's one lockout guard, shared by every
// profile of the mount.
func (b *backend) build(name string, c profileConfig) (*keeper.Keeper, error) {
	log := b.log.Named(name)
	impl, err := b.provider(name, c)
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", name, err)
	}
	spec := keeper.ProfileSpec{
		Name: name, Provider: c.Provider, URL: c.URL, RefreshBefore: c.RefreshBefore, Impl: impl,
	}
	if c.Credential == credServiceAccount {
		// Named by where it is kept, which stays while the token rotates.
		a := impl.(interface{ Account() provider.Account }).Account()
		a.Material = secret.New("engine storage " + secretPrefix + name)
		spec.Account = a
	}
	return keeper.New([]keeper.ProfileSpec{spec}, keeper.Options{Logger: log, Guards: b.guards})
}

func (b *backend) provider(name string, c profileConfig) (keeper.Provider, error) {
	hc, err := provider.NewHTTPClient(provider.HTTPOptions{CAPEM: []byte(c.CAPEM), Logger: b.log.Named(name)})
	if err != nil {
		return nil, err
	}
	stored := storedSecret{b: b, name: name}
	log := b.log.Named(name)
	switch c.Provider {
	case providerVCF:
		cfg := vcf.Config{URL: c.URL, HTTPClient: hc, Logger: log}
		if c.Credential == credAPIKey {
			cfg.APIKey = stored
		} else {
			cfg.Username, cfg.Password = c.Username, stored
		}
		return vcf.New(cfg)
	case providerVCD:
		cfg := vcd.Config{URL: c.URL, HTTPClient: hc, Org: c.Org, APIVersion: c.APIVersion, Logger: log}
		switch c.Credential {
		case credAPIToken:
			cfg.APIToken = stored
		case credServiceAccount:
			cfg.ServiceAccount = storedServiceAccount{store: b.store, name: name, locks: b.locks}
		default:
			cfg.Username, cfg.Password = c.Username, stored
		}
		return vcd.New(cfg)
	}
	return nil, fmt.Errorf("unknown provider %q (%w)", c.Provider, provider.ErrBadConfig)
}

// storedSecret is a profile's login secret as the engine's storage holds
// it now: an update to profiles/<name> is the next login's secret.
type storedSecret struct {
	b    *backend
	name string
}

// Resolve implements the providers' Resolver.
func (s storedSecret) Resolve(ctx context.Context) (secret.Secret, error) {
	return loadSecret(ctx, s.b.store, s.name)
}
