package vault

import (
	"path/filepath"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// The standard Vault environment variables WithEnv reads.
const (
	EnvAddr      = "VAULT_ADDR"
	EnvNamespace = "VAULT_NAMESPACE"
	EnvCACert    = "VAULT_CACERT"
	EnvCAPath    = "VAULT_CAPATH"
	EnvToken     = "VAULT_TOKEN"
)

// WithEnv is c with what it leaves empty taken from the environment, as
// Vault's own tools do: the address, namespace and CA from VAULT_ADDR,
// VAULT_NAMESPACE, VAULT_CACERT and VAULT_CAPATH; and, when c names no
// auth method, the token from VAULT_TOKEN if it is set, else from
// ~/.vault-token (home is the user's home directory; "" for none), the
// file `vault login` and Vault Agent sinks write.
func (c Config) WithEnv(getenv func(string) string, home string) Config {
	fill := func(dst *string, name string) {
		if *dst == "" {
			*dst = getenv(name)
		}
	}
	fill(&c.Address, EnvAddr)
	fill(&c.Namespace, EnvNamespace)
	if c.CACert == "" && c.CAPath == "" {
		fill(&c.CACert, EnvCACert)
		fill(&c.CAPath, EnvCAPath)
	}
	if c.Token != nil || c.AppRole != nil || c.JWT != nil {
		return c
	}
	switch {
	case getenv(EnvToken) != "":
		c.Token = &secret.Ref{Env: EnvToken}
	case home != "":
		c.Token = &secret.Ref{File: filepath.Join(home, ".vault-token")}
	}
	return c
}
