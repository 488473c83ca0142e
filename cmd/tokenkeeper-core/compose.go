package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	engine "github.com/tokenkeeper/tokenkeeper/plugin/provider/vault"
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
	conns := wireVault(cfg, env.Getenv, logger)
	specs := make([]keeper.ProfileSpec, 0, len(cfg.Profiles))
	// A rotated service-account token that cannot be saved next to its
	// file goes to the private runtime directory instead.
	recoveryDir, _ := paths.RuntimeDir(env.Getenv)
	for _, name := range cfg.Names() {
		p := cfg.Profiles[name]
		impl, err := buildProvider(p, conns, recoveryDir, logger.Named(name))
		if err != nil {
			return nil, fmt.Errorf("could not set up profile %q: %w", name, err)
		}
		url := p.URL
		if u, ok := impl.(interface{ URL() string }); ok {
			url = u.URL() // provider vault: the url may be the vault block's
		}
		specs = append(specs, keeper.ProfileSpec{
			Name: name, Provider: p.Provider, URL: url, Account: accountOf(p, impl),
			RefreshBefore: p.RefreshBefore, Keepalive: p.Keepalive, Impl: impl, MaxRole: p.RoleLimit,
		})
	}
	o := keeper.Options{Logger: logger, Guards: guardStore(env, logger), Release: conns.release}
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
	// The standard VAULT_* variables stay: a `vault` helper needs them.
	names := slices.DeleteFunc(envNames(cfg), func(n string) bool { return slices.Contains(standardVaultEnv, n) })
	if len(names) == 0 {
		return
	}
	refs := cfg.VaultConn("").Refs() // Vault's own credentials
	for _, v := range cfg.VaultConns {
		refs = append(refs, v.Refs()...)
	}
	for _, p := range cfg.Profiles {
		refs = append(refs, p.Password, p.APIKey, p.APIToken, p.ServiceAccount)
	}
	for _, r := range refs {
		if r != nil && len(r.Command) > 0 {
			r.Scrub = names
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

// buildProvider returns the upstream protocol of one profile; conns are
// the Vault connections (provider vault); recoveryDir is where a
// service-account token that cannot be stored is saved when its own
// directory cannot take it ("" for nowhere else).
func buildProvider(p *config.Profile, conns *vaultClients, recoveryDir string, logger hclog.Logger) (keeper.Provider, error) {
	if p.Provider == config.ProviderVault {
		c, err := conns.engineClient(p)
		if err != nil {
			return nil, err
		}
		return engine.New(engine.Config{Client: c, Mount: p.Mount, Name: p.EngineProfile, Logger: logger})
	}
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
func resolver(r *secret.Ref) provider.Resolver {
	if r == nil {
		return nil
	}
	return *r
}

// inProcess is a client of a keeper in this process (--no-agent, config
// check --online), through the very TokenService conversions and error
// statuses the agent answers with (plugin.InProcess): every token and
// every error reaches the verbs one way. oneShot: the keeper detaches
// every profile it hands a token out of (Keeper.Detach: VCF revokes the
// refresh token), and Close revokes nothing else, so the process leaves
// behind only the access token it printed; otherwise Close revokes
// everything.
func (a *app) inProcess(oneShot bool) (*host.Client, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	// In-process, nobody else will show the configuration's warnings;
	// through the agent they are in its log, not on every get's stderr.
	if oneShot {
		a.printWarnings(cfg)
	}
	// One shot: nothing keeps a session alive after this process, so the
	// keeper refuses a min validity only its keepalive could honour.
	k, err := a.newKeeper(cfg, a.logger("off"), func(o *keeper.Options) { o.OneShot = oneShot })
	if err != nil {
		return nil, err
	}
	if !oneShot {
		return host.NewClient(plugin.InProcess(k, nil), func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return k.Close(ctx)
		}), nil
	}
	return host.NewClient(plugin.InProcess(oneShotKeeper{k}, nil), func() error { return abandon(k) }), nil
}

// newKeeper builds the keeper of the agent or of an in-process call, with
// the safety margin of $TOKENKEEPER_SAFETY_MARGIN as in plugin mode.
func (a *app) newKeeper(cfg *config.Config, logger hclog.Logger, tune ...func(*keeper.Options)) (*keeper.Keeper, error) {
	margin, err := safetyMargin(a.env.Getenv(envSafetyMargin))
	if err != nil {
		return nil, exec.Errorf(exec.CodeBadConfig, "invalid %s: %v", envSafetyMargin, err)
	}
	tune = append([]func(*keeper.Options){func(o *keeper.Options) { o.SafetyMargin = margin }}, tune...)
	k, err := buildKeeper(cfg, logger, a.env, tune...)
	if err != nil {
		return nil, &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
	}
	return k, nil
}

// keeperClient is a client of the agent's own keeper, for what the agent
// serves beside gRPC (its proxies): the same conversions and error
// statuses as every other caller. Closing it leaves the keeper running.
func keeperClient(k *keeper.Keeper) *host.Client {
	return host.NewClient(plugin.InProcess(k, nil), nil)
}

// oneShotKeeper is the keeper of a process that exits after one call: it
// leaves behind only the access token it hands out.
type oneShotKeeper struct{ *keeper.Keeper }

// Get gets the token, then lets go of the profile: the keeper knows what
// that allows revoking (VCF: the refresh token; VCD: nothing, a logout
// would end the token too).
func (o oneShotKeeper) Get(ctx context.Context, profile string, opts keeper.GetOptions) (keeper.Token, error) {
	t, err := o.Keeper.Get(ctx, profile, opts)
	if err != nil {
		return keeper.Token{}, o.withUnsaved(err)
	}
	if err := o.Detach(ctx, profile); err != nil {
		return keeper.Token{}, fmt.Errorf("could not let go of the profile after login: %w", err)
	}
	return t, nil
}

// withUnsaved adds to the error of a failed one-shot call what became of
// a rotated service-account token the call could not store: the call is
// stopped (its provider saves the token to a recovery file) and the error
// names that file, unless err does already.
func (o oneShotKeeper) withUnsaved(err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = o.Abandon(ctx)
	var ns *secret.NotStoredError
	if errors.As(err, &ns) {
		return err
	}
	if uerr := o.SaveUnsaved(ctx); uerr != nil {
		return fmt.Errorf("%w; %w", err, uerr)
	}
	return err
}

// abandon ends a one-shot keeper, revoking nothing: the process is about
// to exit and the token it printed must stay valid. It stops the calls in
// flight, so that a rotated token one could not store is saved to its
// recovery file before the process exits.
func abandon(k *keeper.Keeper) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return k.Abandon(ctx)
}

// agentOptions composes the agent around keeper k: it serves k's
// TokenService, holds while k keeps a session alive for a caller, and on
// shutdown revokes and saves what k could not store.
func agentOptions(k *keeper.Keeper, logger hclog.Logger) agent.Options {
	return agent.Options{
		Register:  func(s *grpc.Server) { plugin.Register(s, k, logger.Named("server")) },
		HoldUntil: func() time.Time { return keepAliveUntil(k.Status()) },
		Shutdown:  k.Close,
		Unsaved:   k.SaveUnsaved,
		Logger:    logger,
	}
}

// keepAliveUntil is the latest time the keeper promised a caller to keep a
// session alive (zero: none). The agent does not exit before it: exiting
// revokes, and a Cloud Director logout ends the session a token handed out
// with that expiresAt depends on.
func keepAliveUntil(st []keeper.Status) time.Time {
	var until time.Time
	for _, s := range st {
		if s.KeepAliveUntil.After(until) {
			until = s.KeepAliveUntil
		}
	}
	return until
}

// profileAccount is the account of a configured profile, as the keeper
// names it.
func profileAccount(ctx context.Context, cfg *config.Config, name string) (provider.Account, error) {
	p, ok := cfg.Profiles[name]
	if !ok {
		return provider.Account{}, fmt.Errorf("profile %q: %w", name, config.ErrUnknownProfile)
	}
	if p.Provider == config.ProviderVault {
		return provider.Account{}, exec.Errorf(exec.CodeInvalidArgument,
			"profile %q reads the Vault engine, which keeps the lockout guard of its account: see `vault read %s/status/%s`; nothing to reset here",
			name, p.Mount, p.EngineProfile)
	}
	impl, err := buildProvider(p, nil, "", nil)
	if err != nil {
		return provider.Account{}, &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
	}
	acct := accountOf(p, impl)
	if !keeper.NamedByCredential(acct) {
		return acct, nil
	}
	cred, err := impl.Credential(ctx)
	if err != nil {
		return provider.Account{}, fmt.Errorf("profile %q: could not read credential: %w", name, err)
	}
	return keeper.AccountFor(acct, cred), nil
}
