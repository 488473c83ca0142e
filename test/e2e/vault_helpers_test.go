//go:build vault

package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/vault/api"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// The suite runs with `make e2e-vault`, which builds the dev Vault server
// (tools/vaultdev: Vault 1.14.1's own core) and names it in TK_VAULTDEV.
const envVaultDev = "TK_VAULTDEV"

// Values the suite stores in Vault; "canary-" marks every one, so any
// echo of them in logs is found (vcdAssertClean looks for the prefix).
const (
	vaultVCFUser     = "svc@vsphere.local"
	vaultVCFPassword = "canary-vault-vcf-Pa55-7d1e"
	vaultVCDPassword = "canary-vault-vcd-Pa55-93ab"
	vaultOther       = "canary-vault-other-0c2f"
	vaultPolicy      = "tk-read"
)

// vaultDev is a running dev Vault and a root client to set it up.
type vaultDev struct {
	addr, root string
	keys       []string // unseal key shares
	admin      *api.Client
	p          *proc
	stderr     *testutil.SyncBuffer
}

// startVault runs the dev server on 127.0.0.1:0 and waits for its ready
// lines; it stops at the end of the test (SIGTERM, and its stdin closes).
func startVault(t testing.TB) *vaultDev {
	t.Helper()
	binaries(t)
	bin := os.Getenv(envVaultDev)
	if bin == "" {
		t.Fatalf("%s is not set: run this suite with `make e2e-vault`", envVaultDev)
	}
	cmd := exec.Command(bin, "-exit-on-eof")
	v := &vaultDev{stderr: &testutil.SyncBuffer{}}
	cmd.Stderr = v.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	v.p = startProc(t, cmd)
	t.Cleanup(func() { _ = stdin.Close() })
	v.readReady(t, stdout)
	v.admin = v.client(t, v.root)
	return v
}

// readReady reads VAULT_ADDR, VAULT_TOKEN and the unseal keys, bounded.
func (v *vaultDev) readReady(t testing.TB, stdout io.Reader) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			k, val, _ := strings.Cut(sc.Text(), "=")
			switch k {
			case "VAULT_ADDR":
				v.addr = val
			case "VAULT_TOKEN":
				v.root = val
			case "VAULT_UNSEAL_KEY":
				v.keys = append(v.keys, val)
			}
			if len(v.keys) == 3 {
				done <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		done <- fmt.Errorf("stdout ended: %v", sc.Err())
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev Vault did not become ready: %v\n%s", err, v.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("dev Vault not ready within 60s:\n%s", v.stderr.String())
	}
}

// client is a Vault API client with token tok.
func (v *vaultDev) client(t testing.TB, tok string) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = v.addr
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok)
	return c
}

// write writes data at path as root.
func (v *vaultDev) write(t testing.TB, path string, data map[string]any) *api.Secret {
	t.Helper()
	s, err := v.admin.Logical().Write(path, data)
	if err != nil {
		t.Fatalf("vault write %s: %v", path, err)
	}
	return s
}

// seal seals Vault; unseal opens it with the key shares.
func (v *vaultDev) seal(t testing.TB) {
	t.Helper()
	if err := v.admin.Sys().Seal(); err != nil {
		t.Fatalf("seal: %v", err)
	}
}

func (v *vaultDev) unseal(t testing.TB) {
	t.Helper()
	for _, k := range v.keys {
		if _, err := v.admin.Sys().Unseal(k); err != nil {
			t.Fatalf("unseal: %v", err)
		}
	}
}

// vaultSecrets are what setup wrote, the credentials it made, and the
// values no output may contain.
type vaultSecrets struct {
	tokenEnv, tokenFile string // two reader tokens
	roleID, secretID    string
	jwt                 string
}

// setup stores the simulator passwords (KV v2 at secret/, KV v1 at kv/),
// a secret the policy cannot read, the reader policy, and the auth
// methods: two tokens, an AppRole and a JWT role whose key pair is made
// here.
func (v *vaultDev) setup(t testing.TB) vaultSecrets {
	t.Helper()
	v.write(t, "sys/mounts/kv", map[string]any{"type": "kv", "options": map[string]any{"version": "1"}})
	v.write(t, "secret/data/vmware/sddc", map[string]any{"data": map[string]any{"password": vaultVCFPassword}})
	v.write(t, "kv/vmware/vcd", map[string]any{"password": vaultVCDPassword})
	v.write(t, "secret/data/other/x", map[string]any{"data": map[string]any{"password": vaultOther}})
	v.write(t, "sys/policies/acl/"+vaultPolicy, map[string]any{"policy": `
path "secret/data/vmware/*" { capabilities = ["read"] }
path "kv/vmware/*" { capabilities = ["read"] }`})
	var s vaultSecrets
	s.tokenEnv = v.readerToken(t)
	s.tokenFile = v.readerToken(t)
	s.roleID, s.secretID = v.appRole(t)
	s.jwt = v.jwtRole(t)
	return s
}

func (v *vaultDev) readerToken(t testing.TB) string {
	t.Helper()
	s, err := v.admin.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{vaultPolicy}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	return s.Auth.ClientToken
}

func (v *vaultDev) appRole(t testing.TB) (roleID, secretID string) {
	t.Helper()
	v.write(t, "sys/auth/approle", map[string]any{"type": "approle"})
	v.write(t, "auth/approle/role/tk", map[string]any{"token_policies": vaultPolicy, "token_ttl": "10m"})
	r, err := v.admin.Logical().Read("auth/approle/role/tk/role-id")
	if err != nil {
		t.Fatal(err)
	}
	sid := v.write(t, "auth/approle/role/tk/secret-id", nil)
	return r.Data["role_id"].(string), sid.Data["secret_id"].(string)
}

// jwtRole configures the jwt method with a P-256 key made here and
// returns a JWT it accepts, as a CI system's ID token.
func (v *vaultDev) jwtRole(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	v.write(t, "sys/auth/jwt", map[string]any{"type": "jwt"})
	v.write(t, "auth/jwt/config", map[string]any{"jwt_validation_pubkeys": []string{pub}, "bound_issuer": "https://ci.test"})
	v.write(t, "auth/jwt/role/ci", map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"tokenkeeper"},
		"token_policies": vaultPolicy, "token_ttl": "10m",
	})
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://ci.test", "sub": "project_path:lab/pipeline", "aud": "tokenkeeper",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// createdTokens lists the accessors of the live tokens that were made by
// a login at path (auth/approle/login), looked up as root.
func (v *vaultDev) createdTokens(t testing.TB, path string) []string {
	t.Helper()
	s, err := v.admin.Logical().List("auth/token/accessors")
	if err != nil || s == nil {
		t.Fatalf("list accessors: %v", err)
	}
	var out []string
	for _, a := range s.Data["keys"].([]any) {
		l, err := v.admin.Auth().Token().LookupAccessor(a.(string))
		if err != nil {
			continue
		}
		if p, _ := l.Data["path"].(string); p == path {
			out = append(out, a.(string))
		}
	}
	return out
}

// httpSim is `tokenkeeper-sim KIND` over plain HTTP on listen
// (127.0.0.1:0 for a new port): a simulator can be restarted on the same
// port with another password, as an account's password rotates.
func httpSim(t testing.TB, kind, listen string, args ...string) (*Sim, *proc) {
	t.Helper()
	s, p := runSim(t, append([]string{kind, "--listen", listen}, args...))
	s.HTTP = &http.Client{Timeout: 10 * time.Second}
	return s, p
}

// hostPort is the host:port of a simulator URL.
func hostPort(t testing.TB, url string) string {
	t.Helper()
	hp := strings.TrimPrefix(url, "http://")
	if _, _, err := net.SplitHostPort(hp); err != nil {
		t.Fatalf("not a plain-HTTP URL: %s", url)
	}
	return hp
}

// writeSecretFile writes a 0600 file in dir.
func writeSecretFile(t testing.TB, dir, name, value string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
