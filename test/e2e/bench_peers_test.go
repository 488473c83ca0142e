package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

// The peers `tokenkeeper get` is compared with (BenchmarkFront…): a
// static Go hello-world (buildHello), git's credential cache and
// kubelogin's cached get-token, each prepared here so that it answers
// from memory or a local file, as tokenkeeper's warm agent does.

// gitCredentialCache starts `git credential-cache--daemon` on a socket
// in a private temp dir, stores one credential in it and returns the
// command that reads it back: `git credential-cache --socket S get`. The
// daemon is stopped by PID when b ends. env must hold a private HOME.
func gitCredentialCache(b *testing.B, env []string) command {
	b.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		b.Fatalf("git is not on PATH (make bench-front installs it): %v", err)
	}
	dir, err := os.MkdirTemp("", "tkg") // short: unix socket paths are limited to 108 bytes; 0700, as git insists
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	socket := filepath.Join(dir, "socket")
	env = append(env, "GIT_CONFIG_NOSYSTEM=1")

	daemon := exec.Command(git, "credential-cache--daemon", socket)
	daemon.Env = env
	stdout, err := daemon.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	stderr := &testutil.SyncBuffer{}
	daemon.Stderr = stderr
	startProc(b, daemon)
	if line := firstLine(b, "git credential-cache--daemon", stdout, stderr); strings.TrimSpace(line) != "ok" {
		b.Fatalf("git credential-cache--daemon: ready line %q, want ok; stderr:\n%s", line, stderr.String())
	}

	password := "bench-" + randomHex(b)
	store := command{name: "git credential-cache store", path: git, env: env,
		args:  []string{"credential-cache", "--socket", socket, "--timeout", "7200", "store"},
		stdin: writeFile(b, "store", "protocol=https\nhost=bench.invalid\nusername=bench\npassword="+password+"\n\n")}
	runOnce(b, store, false)
	get := command{name: "git credential-cache get", path: git, env: env,
		args:  []string{"credential-cache", "--socket", socket, "get"},
		stdin: writeFile(b, "get", "protocol=https\nhost=bench.invalid\n\n")}
	if out := runOnce(b, get, true); !strings.Contains(out, "password="+password+"\n") {
		b.Fatalf("git credential-cache get did not answer the stored credential (%d bytes)", len(out))
	}
	return get
}

// runOnce runs c once, bounded, failing b if it fails (or, when
// wantOutput, prints nothing), and returns its stdout.
func runOnce(b *testing.B, c command, wantOutput bool) string {
	b.Helper()
	out, err := c.output()
	if err != nil || wantOutput && out == "" {
		b.Fatalf("%s: %v, %d bytes on stdout", c.name, err, len(out))
	}
	return out
}

// kubeloginCached prepares kubelogin's get-token to answer from its token
// cache, offline, and returns that command. kubelogin (v1.34.0) keeps one
// file per key in --token-cache-dir, named by the SHA-256 of its
// gob-encoded key (issuer, client id, TLS settings, user), holding
// {"id_token": …, "refresh_token": …}; get-token takes a lock file beside
// it named <that name>.lock before it reads the cache. So a first run
// against an issuer that answers 404 (an httptest server on 127.0.0.1)
// fails, but leaves the lock file, which names the cache file; the cache
// then gets an unsigned JWT expiring in 2 h, which kubelogin decodes
// without verifying (it verified before caching). The issuer must see no
// request once the cache is written (checked when b ends): every get-token
// measured answered from the file. Needs $TK_KUBELOGIN, the binary `make
// bench-front` builds from tools/kubelogin.
func kubeloginCached(b *testing.B, env []string) command {
	b.Helper()
	bin := os.Getenv("TK_KUBELOGIN")
	if bin == "" {
		b.Skip("TK_KUBELOGIN is not set: `make bench-front` builds the pinned kubelogin and sets it")
	}
	var requests atomic.Int64
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.NotFound(w, nil)
	}))
	b.Cleanup(issuer.Close)
	dir := b.TempDir()
	get := command{name: "kubelogin get-token", path: bin, env: env, args: []string{"get-token",
		"--oidc-issuer-url=" + issuer.URL, "--oidc-client-id=tokenkeeper-bench", "--token-cache-dir=" + dir}}

	if _, err := get.output(); err == nil {
		b.Fatal("kubelogin get-token with no cache and an issuer answering 404 succeeded")
	}
	locks, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
	if len(locks) != 1 {
		b.Fatalf("kubelogin left %d lock files in its cache dir, want 1: %v", len(locks), locks)
	}
	token := unsignedJWT(b, time.Now().Add(2*time.Hour))
	entry, _ := json.Marshal(map[string]string{"id_token": token})
	if err := os.WriteFile(strings.TrimSuffix(locks[0], ".lock"), entry, 0o600); err != nil {
		b.Fatal(err)
	}
	before := requests.Load()
	if out := runOnce(b, get, true); !strings.Contains(out, token) {
		b.Fatalf("kubelogin get-token did not answer the cached token: %d bytes", len(out))
	}
	b.Cleanup(func() {
		if n := requests.Load() - before; n != 0 {
			b.Errorf("kubelogin went to its issuer %d times after its cache was written: not the cached path", n)
		}
	})
	return get
}

// unsignedJWT is a JWT-shaped token ({"alg":"none"}) with sub and exp.
func unsignedJWT(b *testing.B, exp time.Time) string {
	b.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"sub":"bench","exp":%d}`, exp.Unix())
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("unsigned"))
}
