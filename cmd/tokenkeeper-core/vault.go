package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
	"github.com/tokenkeeper/tokenkeeper/plugin/vault"
)

// vaultRefs are the {vault: …} references of the profiles.
func vaultRefs(cfg *config.Config) []*secret.VaultRef {
	var out []*secret.VaultRef
	for _, n := range cfg.Names() {
		for _, r := range profileRefs(cfg.Profiles[n]) {
			if r.ref.Vault != nil {
				out = append(out, r.ref.Vault)
			}
		}
	}
	return out
}

// vaultConfig is the connection a reference's Conn names, with the
// standard Vault environment filling in what the file leaves out.
func vaultConfig(cfg *config.Config, conn string, getenv func(string) string) vault.Config {
	v := cfg.VaultConn(conn)
	c := vault.Config{
		Address: v.Address, Namespace: v.Namespace, CACert: v.CACert, CAPath: v.CAPath, Token: v.Token,
	}
	if v.AppRole != nil {
		c.AppRole = &vault.AppRole{RoleID: v.AppRole.RoleID, SecretID: v.AppRole.SecretID, Mount: v.AppRole.Mount}
	}
	if v.JWT != nil {
		c.JWT = &vault.JWT{Role: v.JWT.Role, Token: v.JWT.Token, Mount: v.JWT.Mount}
	}
	return c.WithEnv(getenv, getenv("HOME"))
}

// vaultClients are the Vault connections of a configuration: one client
// per connection, shared by the references and profiles that name it. A
// connection that cannot work (no address, two auth methods) fails only
// what uses it.
type vaultClients struct {
	cfg     *config.Config
	getenv  func(string) string
	logger  hclog.Logger
	clients map[string]*vault.Client
	failed  map[string]error
}

// wireVault gives every {vault: …} reference its reader and returns the
// connections, for the profiles of provider vault too; their release
// revokes the tokens the clients logged in for.
func wireVault(cfg *config.Config, getenv func(string) string, logger hclog.Logger) *vaultClients {
	v := &vaultClients{cfg: cfg, getenv: getenv, logger: logger.Named("vault"),
		clients: map[string]*vault.Client{}, failed: map[string]error{}}
	for _, r := range vaultRefs(cfg) {
		c, err := v.client(r.Conn, vaultConfig(cfg, r.Conn, getenv))
		if err != nil {
			r.Reader = brokenVault{err}
			continue
		}
		r.Reader = c
	}
	return v
}

// client is the client of connection key, built from vc on first use.
func (v *vaultClients) client(key string, vc vault.Config) (*vault.Client, error) {
	if c, ok := v.clients[key]; ok {
		return c, nil
	}
	if err := v.failed[key]; err != nil {
		return nil, err
	}
	vc.Logger = v.logger
	c, err := vault.New(vc)
	if err != nil {
		v.failed[key] = err
		return nil, err
	}
	v.clients[key] = c
	return c, nil
}

// engineClient is the connection of a profile of provider vault: the
// top-level vault block (and the standard environment), with the
// profile's url and ca_file over its address and CA.
func (v *vaultClients) engineClient(p *config.Profile) (*vault.Client, error) {
	key, vc := engineConn(v.cfg, p, v.getenv)
	return v.client(key, vc)
}

// engineConn is the connection a profile of provider vault uses, and its
// key among the connections: the top-level block's ("") when the profile
// changes nothing of it.
func engineConn(cfg *config.Config, p *config.Profile, getenv func(string) string) (string, vault.Config) {
	vc := vaultConfig(cfg, "", getenv)
	if p.URL == "" && p.CAFile == "" {
		return "", vc
	}
	if p.URL != "" {
		vc.Address = p.URL
	}
	if p.CAFile != "" {
		vc.CACert, vc.CAPath = p.CAFile, ""
	}
	return "engine " + vc.Address + " " + vc.CACert, vc
}

// release revokes the tokens the clients logged in for.
func (v *vaultClients) release(ctx context.Context) error {
	var errs []error
	for _, c := range v.clients {
		errs = append(errs, c.Close(ctx))
	}
	return errors.Join(errs...)
}

// brokenVault is the reader of references whose connection cannot work.
type brokenVault struct{ err error }

func (b brokenVault) Field(context.Context, string, string) (secret.Secret, error) {
	return secret.Secret{}, b.err
}

// standardVaultEnv are the variables vault.Config.WithEnv reads.
var standardVaultEnv = []string{vault.EnvAddr, vault.EnvNamespace, vault.EnvCACert, vault.EnvCAPath, vault.EnvToken}

// vaultEnvNames are the environment variables the Vault connections read
// when the profiles use Vault: the {env: …} credentials of the vault
// blocks and the standard VAULT_* variables. They are part of the agent's
// tag, so a shell with another VAULT_TOKEN or VAULT_ADDR gets an agent of
// its own.
func vaultEnvNames(cfg *config.Config) []string {
	if len(vaultRefs(cfg)) == 0 && !usesEngine(cfg) {
		return nil
	}
	refs := cfg.VaultConn("").Refs()
	for _, v := range cfg.VaultConns {
		refs = append(refs, v.Refs()...)
	}
	var names []string
	for _, r := range refs {
		if r.Env != "" {
			names = append(names, r.Env)
		}
	}
	return append(names, standardVaultEnv...)
}

// checkVaultOffline checks, without contacting Vault, that the
// connection of a {vault: …} reference can work: an address and one auth
// method (from the file or this environment; missing here is a warning,
// the agent may have another environment), and credentials for it that
// can be read here.
func checkVaultOffline(ctx context.Context, vc vault.Config, lookup func(string) (string, bool)) (warn bool, err error) {
	if err := vc.Validate(); err != nil {
		fromEnv := vc.Address == "" || (vc.Token == nil && vc.AppRole == nil && vc.JWT == nil)
		return fromEnv, err
	}
	for _, ref := range (config.Vault{Token: vc.Token, AppRole: appRoleOf(vc), JWT: jwtOf(vc)}).Refs() {
		if warn, err := checkRef(ctx, ref, false, lookup); err != nil {
			return warn, err
		}
	}
	return false, nil
}

func appRoleOf(vc vault.Config) *config.VaultAppRole {
	if vc.AppRole == nil {
		return nil
	}
	return &config.VaultAppRole{RoleID: vc.AppRole.RoleID, SecretID: vc.AppRole.SecretID}
}

func jwtOf(vc vault.Config) *config.VaultJWT {
	if vc.JWT == nil {
		return nil
	}
	return &config.VaultJWT{Role: vc.JWT.Role, Token: vc.JWT.Token}
}

// checkVaultOnline reads every {vault: …} reference once, printing one
// line each with its path and field (never the value); the error carries
// the most severe failure's code.
func (a *app) checkVaultOnline(ctx context.Context, cfg *config.Config) error {
	conns := wireVault(cfg, a.env.Getenv, hclog.NewNullLogger())
	defer func() { _ = conns.release(context.WithoutCancel(ctx)) }()
	var worst *exec.Error
	failed, total := 0, 0
	for _, n := range cfg.Names() {
		for _, r := range profileRefs(cfg.Profiles[n]) {
			if r.ref.Vault == nil {
				continue
			}
			total++
			v := r.ref.Vault
			if _, err := r.ref.Resolve(ctx); err != nil {
				e := a.classify(err)
				fmt.Fprintf(a.env.Stdout, "%s: %s: vault %s field %s: FAILED (%s): %s\n", n, r.field, v.Path, v.Field, e.Code, exec.OneLine(e.Message))
				worst = mostSevereOf(worst, e)
				failed++
				continue
			}
			fmt.Fprintf(a.env.Stdout, "%s: %s: vault %s field %s: ok: read\n", n, r.field, v.Path, v.Field)
		}
	}
	if worst != nil {
		return &exec.Error{Code: worst.Code, Message: fmt.Sprintf("%d of %d Vault references could not be read", failed, total)}
	}
	return nil
}

// usesEngine reports whether a profile reads tokenkeeper's Vault engine.
func usesEngine(cfg *config.Config) bool {
	for _, p := range cfg.Profiles {
		if p.Provider == config.ProviderVault {
			return true
		}
	}
	return false
}
