package engine

import (
	"context"
	"fmt"

	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
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
func (b *backend) build(mount, name string, c profileConfig) (*keeper.Keeper, error) {
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
	return keeper.New([]keeper.ProfileSpec{spec}, keeper.Options{
		Logger: log, Guards: b.guards, GuardRemedy: guardRemedy(mount, c.Credential),
	})
}

// guardRemedy is the engine's answer to a lockout guard refusal: its
// guard is in the mount's storage, where `tokenkeeper guard reset` does
// not reach, and a new login secret written to the profile is tried at
// the next read (docs/fleet.md). The same secret is tried again only
// after the retry time, which the refusal names.
func guardRemedy(mount, credential string) func(profile string) string {
	if mount == "" {
		mount = "<mount>/"
	}
	return func(profile string) string {
		return fmt.Sprintf("once the secret is fixed, write it to the engine, which tries a new one at the next read: vault write %sprofiles/%s %s=-",
			mount, profile, credential)
	}
}

// guardStoreRemedy is the way out of a corrupt lockout guard in the
// engine: its records are entries of the mount's storage, which no
// engine path and no local command reaches, only Vault's raw storage
// endpoint. They hold no secret and no token.
var guardStoreRemedy = guardfile.Remedy{
	Reset: "it holds only lockout records: deleting its entries " + guardPrefix + guardfile.StateFile + " and " + guardPrefix + guardfile.KeyFile +
		" through Vault's raw storage endpoint (raw_storage_endpoint in the server's configuration) starts them afresh: " +
		"vault delete sys/raw/logical/<uuid>/" + guardPrefix + guardfile.StateFile + ", the same for " + guardfile.KeyFile +
		", with the mount's uuid from vault read sys/mounts/<mount>",
	Check: "check that Vault's storage is available",
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
