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

// wireVault gives every {vault: …} reference its reader: one client per
// connection, shared by the references that name it. A connection that
// cannot work (no address, two auth methods) fails only the references
// that use it, each naming its path and field. The returned release
// revokes the tokens the clients logged in for.
func wireVault(cfg *config.Config, getenv func(string) string, logger hclog.Logger) func(context.Context) error {
	clients := map[string]*vault.Client{}
	failed := map[string]error{}
	for _, r := range vaultRefs(cfg) {
		if _, done := clients[r.Conn]; !done && failed[r.Conn] == nil {
			vc := vaultConfig(cfg, r.Conn, getenv)
			vc.Logger = logger.Named("vault")
			c, err := vault.New(vc)
			if err != nil {
				failed[r.Conn] = err
			} else {
				clients[r.Conn] = c
			}
		}
		if err := failed[r.Conn]; err != nil {
			r.Reader = brokenVault{err}
			continue
		}
		r.Reader = clients[r.Conn]
	}
	return func(ctx context.Context) error {
		var errs []error
		for _, c := range clients {
			errs = append(errs, c.Close(ctx))
		}
		return errors.Join(errs...)
	}
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
	if len(vaultRefs(cfg)) == 0 {
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
func checkVaultOffline(ctx context.Context, cfg *config.Config, r *secret.VaultRef, getenv func(string) string,
	lookup func(string) (string, bool)) (warn bool, err error) {
	vc := vaultConfig(cfg, r.Conn, getenv)
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
	release := wireVault(cfg, a.env.Getenv, hclog.NewNullLogger())
	defer func() { _ = release(context.WithoutCancel(ctx)) }()
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
