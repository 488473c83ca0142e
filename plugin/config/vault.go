package config

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Vault is the connection to HashiCorp Vault: the top-level `vault`
// block, or the connection keys a {vault: …} reference sets for itself.
// Empty fields take the standard Vault environment (VAULT_ADDR, …) when
// the keeper is built; at most one of Token, AppRole, JWT is set.
type Vault struct {
	// Address is Vault's URL (`address`).
	Address string
	// Namespace is the Vault Enterprise namespace (`namespace`).
	Namespace string
	// CACert and CAPath verify Vault's certificate (`ca_cert`, `ca_path`).
	CACert, CAPath string
	// Token is a token the user supplies (`token`: env, file, command).
	Token *secret.Ref
	// AppRole logs in with the approle method (`approle`).
	AppRole *VaultAppRole
	// JWT logs in with the jwt method (`jwt`).
	JWT *VaultJWT
}

// VaultAppRole is `approle: {role_id, secret_id, mount}`.
type VaultAppRole struct {
	RoleID, SecretID *secret.Ref
	// Mount is where the method is enabled ("" for approle).
	Mount string
}

// VaultJWT is `jwt: {role, token, mount}`.
type VaultJWT struct {
	Role  string
	Token *secret.Ref
	// Mount is where the method is enabled ("" for jwt).
	Mount string
}

// VaultConn returns the connection named by a reference's Conn: the
// top-level block for "" (empty when the file has none), else the
// reference's own settings over it.
func (c *Config) VaultConn(name string) Vault {
	if v, ok := c.VaultConns[name]; ok {
		return *v
	}
	if c.Vault != nil {
		return *c.Vault
	}
	return Vault{}
}

// Refs returns the secret references of the Vault connection (token,
// role_id, secret_id, the JWT), for wiring and checks.
func (v Vault) Refs() []*secret.Ref {
	var out []*secret.Ref
	add := func(r *secret.Ref) {
		if r != nil {
			out = append(out, r)
		}
	}
	add(v.Token)
	if v.AppRole != nil {
		add(v.AppRole.RoleID)
		add(v.AppRole.SecretID)
	}
	if v.JWT != nil {
		add(v.JWT.Token)
	}
	return out
}

// vaultConnKeys are the keys of a connection; a reference also has path
// and field.
var (
	vaultConnKeys = []string{"address", "approle", "ca_cert", "ca_path", "jwt", "namespace", "token"}
	vaultRefKeys  = append([]string{"field", "path"}, vaultConnKeys...)
)

const vaultRefHelp = "write {vault: {path: secret/data/NAME, field: KEY}}"

// vaultBlock converts the top-level `vault` mapping.
func (ps *parser) vaultBlock(n *yaml.Node, cfg *Config) {
	w := where{field: "vault"}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		ps.fail(n, w, "must be a mapping, e.g. vault: {address: https://vault.example.com:8200, approle: {…}}")
		return
	}
	v := &Vault{}
	for _, p := range ps.pairs(n, w, false) {
		if !ps.vaultConnKey(p, w, v) {
			ps.unknown(p.k, w, p.key, vaultConnKeys)
		}
	}
	ps.vaultAuthOnce(n, w, v)
	cfg.Vault = v
}

// vaultConnKey converts one connection key into v; false for a key that
// is not one.
func (ps *parser) vaultConnKey(p pair, w where, v *Vault) bool {
	sw := w.sub(p.key)
	switch p.key {
	case "address":
		if ps.url(p.v, sw, &v.Address) {
			if msg := checkURL(v.Address); msg != "" {
				ps.fail(p.v, sw, "%s", msg)
			}
		}
	case "namespace":
		ps.str(p.v, sw, &v.Namespace)
	case "ca_cert":
		ps.path(p.v, sw, &v.CACert)
	case "ca_path":
		ps.path(p.v, sw, &v.CAPath)
	case "token":
		ps.vaultCred(p.v, sw, &v.Token)
	case "approle":
		ps.appRole(p.v, sw, &v.AppRole)
	case "jwt":
		ps.jwt(p.v, sw, &v.JWT)
	default:
		return false
	}
	return true
}

// vaultAuthOnce refuses more than one auth method.
func (ps *parser) vaultAuthOnce(n *yaml.Node, w where, v *Vault) {
	count := 0
	for _, set := range []bool{v.Token != nil, v.AppRole != nil, v.JWT != nil} {
		if set {
			count++
		}
	}
	if count > 1 {
		ps.fail(n, w, "set one of token, approle and jwt")
	}
}

// vaultCred converts a credential for Vault itself: any reference but a
// vault one.
func (ps *parser) vaultCred(n *yaml.Node, w where, dst **secret.Ref) bool {
	var r *secret.Ref
	if !ps.ref(n, w, &r) {
		return false
	}
	if r.Vault != nil {
		ps.fail(n, w, "a credential for Vault cannot come from Vault: use env, file or command")
		return false
	}
	*dst = r
	return true
}

var (
	appRoleKeys = []string{"mount", "role_id", "secret_id"}
	jwtKeys     = []string{"mount", "role", "token"}
)

func (ps *parser) appRole(n *yaml.Node, w where, dst **VaultAppRole) {
	if n.Kind != yaml.MappingNode {
		ps.fail(n, w, "must be a mapping: approle: {role_id: {env: ROLE_ID}, secret_id: {file: PATH}}")
		return
	}
	a := &VaultAppRole{}
	for _, p := range ps.pairs(n, w, false) {
		switch p.key {
		case "role_id":
			ps.vaultCred(p.v, w.sub(p.key), &a.RoleID)
		case "secret_id":
			ps.vaultCred(p.v, w.sub(p.key), &a.SecretID)
		case "mount":
			ps.mount(p.v, w.sub(p.key), &a.Mount)
		default:
			ps.unknown(p.k, w, p.key, appRoleKeys)
		}
	}
	if a.RoleID == nil || a.SecretID == nil {
		ps.fail(n, w, "needs role_id and secret_id")
	}
	*dst = a
}

func (ps *parser) jwt(n *yaml.Node, w where, dst **VaultJWT) {
	if n.Kind != yaml.MappingNode {
		ps.fail(n, w, "must be a mapping: jwt: {role: ROLE, token: {env: CI_JOB_JWT}}")
		return
	}
	j := &VaultJWT{}
	for _, p := range ps.pairs(n, w, false) {
		switch p.key {
		case "role":
			ps.str(p.v, w.sub(p.key), &j.Role)
		case "token":
			ps.vaultCred(p.v, w.sub(p.key), &j.Token)
		case "mount":
			ps.mount(p.v, w.sub(p.key), &j.Mount)
		default:
			ps.unknown(p.k, w, p.key, jwtKeys)
		}
	}
	if j.Role == "" || j.Token == nil {
		ps.fail(n, w, "needs role and token")
	}
	*dst = j
}

// mount is an auth mount path without surrounding slashes.
func (ps *parser) mount(n *yaml.Node, w where, dst *string) bool {
	var s string
	if !ps.str(n, w, &s) {
		return false
	}
	if s = strings.Trim(s, "/"); s == "" || strings.ContainsAny(s, " \t?#") {
		ps.fail(n, w, "must be a mount path like approle or ci/jwt")
		return false
	}
	*dst = s
	return true
}

// vaultRef converts the mapping under `vault:` of a secret reference.
// Path and field are shown in messages: they name where the secret is,
// never the secret.
func (ps *parser) vaultRef(n *yaml.Node, w where, dst **secret.VaultRef) bool {
	if n.Kind != yaml.MappingNode {
		ps.fail(n, w, "must be a mapping: %s", vaultRefHelp)
		return false
	}
	r := &secret.VaultRef{}
	conn := &Vault{}
	ok, own := true, false
	for _, p := range ps.pairs(n, w, false) {
		switch p.key {
		case "path":
			ok = ps.vaultPath(p.v, w.sub(p.key), &r.Path) && ok
		case "field":
			ok = ps.str(p.v, w.sub(p.key), &r.Field) && ok
		default:
			if !ps.vaultConnKey(p, w, conn) {
				ps.unknown(p.k, w, p.key, vaultRefKeys)
				ok = false
			}
			own = true
		}
	}
	if r.Path == "" || r.Field == "" {
		ps.fail(n, w, "needs path and field: %s", vaultRefHelp)
		return false
	}
	if own {
		ps.vaultAuthOnce(n, w, conn)
		r.Conn = w.profile + "." + strings.TrimSuffix(w.field, ".vault")
		ps.vaultOwn = append(ps.vaultOwn, ownConn{name: r.Conn, v: conn})
	}
	*dst = r
	return ok
}

// vaultPath accepts a logical path without the /v1/ prefix.
func (ps *parser) vaultPath(n *yaml.Node, w where, dst *string) bool {
	var s string
	if !ps.str(n, w, &s) {
		return false
	}
	s = strings.Trim(s, "/")
	switch {
	case strings.HasPrefix(s, "v1/"):
		ps.fail(n, w, "is a logical path without /v1/, e.g. secret/data/vmware/sddc")
		return false
	case s == "" || strings.ContainsAny(s, "?#") || strings.Contains(s, ".."):
		ps.fail(n, w, "must be a logical path like secret/data/vmware/sddc")
		return false
	}
	*dst = s
	return true
}

// ownConn is a reference's own connection settings, merged over the
// top-level block once the whole file is read.
type ownConn struct {
	name string
	v    *Vault
}

// mergeVault gives each reference with its own settings its connection:
// what it sets, the top-level block for the rest. An auth method set in
// the reference replaces the block's.
func (ps *parser) mergeVault(cfg *Config) {
	for _, o := range ps.vaultOwn {
		m := cfg.VaultConn("")
		v := o.v
		for _, f := range []struct{ dst, src *string }{
			{&m.Address, &v.Address}, {&m.Namespace, &v.Namespace}, {&m.CACert, &v.CACert}, {&m.CAPath, &v.CAPath},
		} {
			if *f.src != "" {
				*f.dst = *f.src
			}
		}
		if v.Token != nil || v.AppRole != nil || v.JWT != nil {
			m.Token, m.AppRole, m.JWT = v.Token, v.AppRole, v.JWT
		}
		if cfg.VaultConns == nil {
			cfg.VaultConns = map[string]*Vault{}
		}
		cfg.VaultConns[o.name] = &m
	}
}
