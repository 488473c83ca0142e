package main

import (
	"fmt"
	"path/filepath"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcd"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcenter"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider/vcf"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// buildKeeper wires a keeper over the configured profiles: one HTTP client
// (TLS settings, timeout) and one provider per profile, and the lockout
// guard shared with every other tokenkeeper process of the user. tune, if
// given, adjusts the keeper options (plugin mode reads a safety margin
// from the environment). Hand-written wiring: every dependency is visible
// here.
func buildKeeper(cfg *config.Config, logger hclog.Logger, env cliEnv, tune ...func(*keeper.Options)) (*keeper.Keeper, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	scrubCommands(cfg)
	specs := make([]keeper.ProfileSpec, 0, len(cfg.Profiles))
	// A rotated service-account token that cannot be saved next to its
	// file goes to the private runtime directory instead.
	recoveryDir, _ := paths.RuntimeDir(env.Getenv)
	for _, name := range cfg.Names() {
		p := cfg.Profiles[name]
		impl, err := buildProvider(p, recoveryDir, logger.Named(name))
		if err != nil {
			return nil, fmt.Errorf("could not set up profile %q: %w", name, err)
		}
		specs = append(specs, keeper.ProfileSpec{
			Name: name, Provider: p.Provider, URL: p.URL, Account: accountOf(p, impl),
			RefreshBefore: p.RefreshBefore, Keepalive: p.Keepalive, Impl: impl, MaxRole: p.RoleLimit,
		})
	}
	o := keeper.Options{Logger: logger, Guards: guardStore(env, logger)}
	for _, f := range tune {
		f(&o)
	}
	return keeper.New(specs, o)
}

// guardStore is the lockout guard file in the agent's runtime directory,
// shared by the agent, `--no-agent` calls and go-plugin children, so that
// the budget of an account holds in all of them together. Without a
// usable directory the store fails every operation: no login is
// attempted (fail closed), and the error says why.
func guardStore(env cliEnv, logger hclog.Logger) keeper.GuardStore {
	dir, err := paths.OpenRuntimeDir(env.Getenv)
	if err != nil {
		logger.Error("no login can be attempted: the lockout guard has no private runtime directory", "error", err)
		return guardfile.Failed(fmt.Errorf("%w; set XDG_RUNTIME_DIR to a private directory of yours (mode 0700)", err))
	}
	return guardfile.NewIn(dir)
}

// scrubCommands keeps the values of the configuration's {env: …} secrets
// (every profile's) out of the environment of its {command: …} helpers:
// a helper needs PATH, HOME, VAULT_ADDR or GNUPGHOME, never another
// profile's password (secret.Ref.Scrub).
func scrubCommands(cfg *config.Config) {
	names := envNames(cfg)
	if len(names) == 0 {
		return
	}
	for _, p := range cfg.Profiles {
		for _, r := range []*secret.Ref{p.Password, p.APIKey, p.APIToken, p.ServiceAccount} {
			if r != nil && len(r.Command) > 0 {
				r.Scrub = names
			}
		}
	}
}

// accountOf is the account a profile logs in as (its lockout budget):
// the provider's own, except that a service account is named by its token
// file, which stays while the token in it rotates.
func accountOf(p *config.Profile, impl keeper.Provider) provider.Account {
	ai, ok := impl.(interface{ Account() provider.Account })
	if !ok {
		return provider.Account{} // keeper.New refuses it
	}
	a := ai.Account()
	if p.ServiceAccount != nil && p.ServiceAccount.File != "" {
		path, err := filepath.Abs(p.ServiceAccount.File)
		if err != nil {
			path = p.ServiceAccount.File
		}
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		a.Material = secret.New("file " + path)
	}
	return a
}

// buildProvider returns the upstream protocol of one profile; recoveryDir
// is where a service-account token that cannot be stored is saved when
// its own directory cannot take it ("" for nowhere else).
func buildProvider(p *config.Profile, recoveryDir string, logger hclog.Logger) (keeper.Provider, error) {
	hc, err := provider.NewHTTPClient(provider.HTTPOptions{
		CAFile: p.CAFile, InsecureSkipVerify: p.InsecureSkipVerify, Timeout: p.Timeout, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	switch p.Provider {
	case config.ProviderVCF:
		return vcf.New(vcf.Config{
			URL: p.URL, HTTPClient: hc, Username: p.Username,
			Password: resolver(p.Password), APIKey: resolver(p.APIKey), Logger: logger,
		})
	case config.ProviderVCD:
		c := vcd.Config{
			URL: p.URL, HTTPClient: hc, Org: p.Org, Username: p.Username,
			Password: resolver(p.Password), APIToken: resolver(p.APIToken),
			APIVersion: p.APIVersion, LegacyLogin: p.LegacyLogin, Logger: logger,
			IdleTimeout: p.IdleTimeout,
		}
		if p.ServiceAccount != nil {
			c.ServiceAccount = vcd.FileServiceAccount(*p.ServiceAccount, recoveryDir)
		}
		return vcd.New(c)
	case config.ProviderVCenter:
		return vcenter.New(vcenter.Config{
			URL: p.URL, HTTPClient: hc, Username: p.Username, Password: resolver(p.Password),
			IdleTimeout: p.IdleTimeout, Logger: logger,
		})
	}
	return nil, fmt.Errorf("unknown provider %q", p.Provider)
}

// resolver turns an optional reference into the provider's interface
// without the nil-pointer-in-an-interface trap: an absent reference must
// compare equal to nil.
func resolver(r *secret.Ref) interface {
	vcf.Resolver
	vcd.Resolver
	vcenter.Resolver
} {
	if r == nil {
		return nil
	}
	return *r
}
