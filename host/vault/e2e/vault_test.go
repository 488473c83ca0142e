package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/audit"
	auditFile "github.com/hashicorp/vault/builtin/audit/file"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
)

// mount is where the tests mount the engine.
const mount = "tokenkeeper"

// testVault is a three-node HA Vault with the engine registered in its
// plugin catalog and mounted, a KV mount beside it, and a file audit
// device.
type testVault struct {
	cluster *vault.TestCluster
	root    *api.Client // root token, first node
	logFile string      // every node's log, the engine's forwarded lines included
	audit   string      // the file audit device
}

// startVault starts the cluster and mounts the engine binary through the
// real external-plugin path: the plugin directory, the catalog entry with
// its SHA-256, sys/mounts. The engine logs at logLevel (its -log-level).
func startVault(t *testing.T, logLevel string) *testVault {
	t.Helper()
	dir := t.TempDir()
	pluginDir := filepath.Join(dir, "plugins")
	if err := os.Mkdir(pluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := installEngine(t, filepath.Join(pluginDir, "tokenkeeper-vault"))
	tv := &testVault{logFile: filepath.Join(dir, "vault.log"), audit: filepath.Join(dir, "audit.log")}
	lf, err := os.Create(tv.logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lf.Close() })
	logger := hclog.New(&hclog.LoggerOptions{Output: lf, Level: hclog.LevelFromString(logLevel), Mutex: &sync.Mutex{}})
	conf := &vault.CoreConfig{
		LogicalBackends: map[string]logical.Factory{"kv": kv.Factory},
		AuditBackends:   map[string]audit.Factory{"file": auditFile.Factory},
		PluginDirectory: pluginDir,
	}
	tv.cluster = vault.NewTestCluster(t, conf, &vault.TestClusterOptions{
		HandlerFunc: vaulthttp.Handler, NumCores: 3, Logger: logger,
	})
	tv.cluster.Start()
	t.Cleanup(tv.cluster.Cleanup)
	vault.TestWaitActive(t, tv.cluster.Cores[0].Core)
	tv.root = tv.cluster.Cores[0].Client
	tv.setup(t, sum, logLevel)
	return tv
}

func (tv *testVault) setup(t *testing.T, sum, logLevel string) {
	t.Helper()
	sys := tv.root.Sys()
	must(t, sys.EnableAuditWithOptions("file", &api.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": tv.audit},
	}))
	must(t, sys.RegisterPlugin(&api.RegisterPluginInput{
		Name: "tokenkeeper", Type: api.PluginTypeSecrets, Command: "tokenkeeper-vault",
		SHA256: sum, Args: []string{"-log-level=" + logLevel},
	}))
	must(t, sys.Mount(mount, &api.MountInput{Type: "tokenkeeper"}))
	must(t, sys.Mount("kv", &api.MountInput{Type: "kv"}))
	_, err := tv.root.Logical().Write("kv/bench", map[string]any{"value": "not a secret"})
	must(t, err)
}

// installEngine copies the engine binary into the plugin directory and
// returns its SHA-256 for the catalog.
func installEngine(t *testing.T, dst string) string {
	t.Helper()
	src := engineBinary(t)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// built is a program of the engine module (..), built once per test
// binary into a temporary directory.
type built struct {
	once sync.Once
	path string
	err  error
}

// binary builds pkg (e.g. ./cmd/tokenkeeper-vault) on first use.
func (b *built) binary(t *testing.T, pkg string) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "tokenkeeper-vault-e2e-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = &buildError{out: string(out), err: err}
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

var builtEngine, builtGoHost built

// engineBinary is $TOKENKEEPER_VAULT_ENGINE (make builds it), else the
// engine built once from ../cmd/tokenkeeper-vault.
func engineBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TOKENKEEPER_VAULT_ENGINE"); p != "" {
		return p
	}
	return builtEngine.binary(t, "./cmd/tokenkeeper-vault")
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "build the engine: " + e.err.Error() + "\n" + e.out }

// binDir holds tokenkeeper and tokenkeeper-sim: $TOKENKEEPER_BIN, else
// the tree's bin/ (make build).
func binDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("TOKENKEEPER_BIN"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "bin")
	if _, err := os.Stat(filepath.Join(d, "tokenkeeper-sim")); err != nil {
		t.Fatalf("no tokenkeeper-sim in %s: run `make build` (or set TOKENKEEPER_BIN)", d)
	}
	return d
}

// activeCore waits until a node other than not is active, for at most 60 s.
func (tv *testVault) activeCore(t *testing.T, not *vault.TestClusterCore) *vault.TestClusterCore {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range tv.cluster.Cores {
			if c != not && !c.Core.Sealed() {
				if standby, _ := c.Core.Standby(); !standby {
					return c
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no active node after 60s")
	return nil
}

// client is a client of the first node with token tok.
func (tv *testVault) client(t *testing.T, tok string) *api.Client {
	t.Helper()
	c, err := tv.root.Clone()
	must(t, err)
	c.SetToken(tok)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
