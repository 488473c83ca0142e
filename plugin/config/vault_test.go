package config

import (
	"strings"
	"testing"
)

const vaultProfiles = `vault:
  address: https://vault.example.com:8200
  approle: {role_id: {env: ROLE_ID}, secret_id: {file: /run/secrets/secret-id}, mount: ci/approle}
profiles:
  sddc:
    provider: vcf
    url: https://sddc.example.com
    username: svc
    password: {vault: {path: /secret/data/vmware/sddc/, field: password}}
  vcd:
    provider: vcd
    url: https://vcd.example.com
    org: Example
    username: svc
    password: {vault: {path: kv/vcd, field: pw, namespace: team-b, jwt: {role: ci, token: {env: CI_JWT}}}}
`

func TestParseVault(t *testing.T) {
	cfg, err := Parse([]byte(vaultProfiles), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	top := cfg.VaultConn("")
	if top.Address != "https://vault.example.com:8200" || top.AppRole == nil || top.AppRole.Mount != "ci/approle" ||
		top.AppRole.RoleID.Env != "ROLE_ID" || top.AppRole.SecretID.File != "/run/secrets/secret-id" {
		t.Fatalf("top-level vault block = %+v", top)
	}
	r := cfg.Profiles["sddc"].Password.Vault
	if r == nil || r.Path != "secret/data/vmware/sddc" || r.Field != "password" || r.Conn != "" {
		t.Fatalf("sddc reference = %+v", r)
	}
	own := cfg.Profiles["vcd"].Password.Vault
	conn := cfg.VaultConn(own.Conn)
	if own.Conn == "" || conn.Namespace != "team-b" || conn.Address != top.Address || conn.AppRole != nil ||
		conn.JWT == nil || conn.JWT.Role != "ci" || conn.JWT.Token.Env != "CI_JWT" {
		t.Fatalf("a reference's own settings go over the block's, its auth method replacing the block's: %+v", conn)
	}
}

func TestParseVaultErrors(t *testing.T) {
	profile := func(ref string) string {
		return "profiles:\n  p:\n    provider: vcf\n    url: https://sddc.example.com\n    username: u\n    password: " + ref + "\n"
	}
	tests := []struct {
		name, file, want string
	}{
		{"no field", profile("{vault: {path: secret/data/x}}"), `field "password.vault": needs path and field`},
		{"v1 prefix", profile("{vault: {path: v1/secret/data/x, field: f}}"), "without /v1/"},
		{"unknown key", profile("{vault: {path: secret/data/x, field: f, feild: g}}"), `unknown key "feild"`},
		{"two sources", profile("{vault: {path: a, field: f}, env: X}"), "more than one source"},
		{"two methods", "vault: {address: https://v.test, token: {env: T}, jwt: {role: r, token: {env: J}}}\n" +
			profile("{vault: {path: a, field: f}}"), "set one of token, approle and jwt"},
		{"credential from vault", "vault: {address: https://v.test, token: {vault: {path: a, field: f}}}\n" +
			profile("{env: X}"), "cannot come from Vault"},
		{"plain http", "vault: {address: http://vault.example.com}\n" + profile("{env: X}"), "http is allowed only for"},
		{"approle half", "vault: {address: https://v.test, approle: {role_id: {env: R}}}\n" + profile("{env: X}"),
			"needs role_id and secret_id"},
		{"unknown block key", "vault: {adress: https://v.test}\n" + profile("{env: X}"), `did you mean "address"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.file), "config.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
