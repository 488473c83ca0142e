// Command vaultdev is a development Vault server for tokenkeeper's tests: Vault
// 1.14.1's own in-memory core (initialized, unsealed, no persistence) served
// by Vault's HTTP handler on 127.0.0.1.
//
// It mounts secret/ as KV version 2, as `vault server -dev` does, and has the
// kv, approle, userpass and jwt backends registered, so a test can mount KV
// version 1 elsewhere and enable those auth methods through the ordinary API.
// When it is ready it prints, one per line on stdout:
//
//	VAULT_ADDR=http://127.0.0.1:PORT
//	VAULT_TOKEN=<root token>
//	VAULT_UNSEAL_KEY=<base64 key share>   (one line per share)
//
// and then serves until SIGINT or SIGTERM, or until its standard input is
// closed when run with -exit-on-eof (so a test that dies takes it along).
//
// It is a test tool: everything lives in memory, the root token is printed,
// and it never listens beyond the address given (loopback by default).
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	jwtauth "github.com/hashicorp/vault-plugin-auth-jwt"
	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	credAppRole "github.com/hashicorp/vault/builtin/credential/approle"
	credUserpass "github.com/hashicorp/vault/builtin/credential/userpass"
	"github.com/hashicorp/vault/helper/namespace"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/internalshared/configutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
	testing "github.com/mitchellh/go-testing-interface"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	level := flag.String("log-level", "warn", "Vault core log level (trace, debug, info, warn, error)")
	exitOnEOF := flag.Bool("exit-on-eof", false, "exit when standard input is closed")
	flag.Parse()
	if err := run(*addr, *level, *exitOnEOF); err != nil {
		fmt.Fprintln(os.Stderr, "vaultdev:", err)
		os.Exit(1)
	}
}

func run(addr, level string, exitOnEOF bool) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "vaultdev", Level: hclog.LevelFromString(level), Output: os.Stderr})
	t := &runtimeT{}
	core, keys, root := vault.TestCoreUnsealedWithConfig(t, coreConfig(logger))
	defer func() { _ = core.ShutdownWait() }()
	if err := mountKV2(core, root); err != nil {
		return err
	}
	srv := &http.Server{
		Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{
			Core:           core,
			ListenerConfig: &configutil.Listener{Address: ln.Addr().String()},
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	printReady(os.Stdout, "http://"+ln.Addr().String(), root, keys)
	err = waitForStop(served, exitOnEOF)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return err
}

// coreConfig registers the backends the tests enable: KV (versions 1 and 2,
// Vault's plugin as built into 1.14.1), AppRole, userpass and JWT/OIDC.
func coreConfig(logger hclog.Logger) *vault.CoreConfig {
	return &vault.CoreConfig{
		Logger:          logger,
		LogicalBackends: map[string]logical.Factory{"kv": kv.Factory},
		CredentialBackends: map[string]logical.Factory{
			"approle":  credAppRole.Factory,
			"userpass": credUserpass.Factory,
			"jwt":      jwtauth.Factory,
		},
	}
}

// mountKV2 replaces the KV version 1 mount at secret/ that Vault's test core
// makes with a version 2 one, and waits until it answers.
func mountKV2(core *vault.Core, root string) error {
	// The core's request handling wants the root namespace in the context.
	ctx := namespace.RootContext(context.Background())
	if err := handle(ctx, core, root, logical.DeleteOperation, "sys/mounts/secret", nil); err != nil {
		return fmt.Errorf("unmount secret/: %w", err)
	}
	mount := map[string]interface{}{
		"type":    "kv",
		"options": map[string]string{"version": "2"},
	}
	if err := handle(ctx, core, root, logical.UpdateOperation, "sys/mounts/secret", mount); err != nil {
		return fmt.Errorf("mount secret/ as KV v2: %w", err)
	}
	// A new KV v2 mount answers "upgrading" for a moment: wait, bounded.
	var err error
	for range 200 {
		if err = handle(ctx, core, root, logical.ReadOperation, "secret/config", nil); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("secret/ not ready: %w", err)
}

// handle runs one request against the core with the root token.
func handle(ctx context.Context, core *vault.Core, token string, op logical.Operation, path string, data map[string]interface{}) error {
	req := &logical.Request{Operation: op, ClientToken: token, Path: path, Data: data}
	resp, err := core.HandleRequest(ctx, req)
	if err != nil {
		return err
	}
	if resp != nil && resp.IsError() {
		return resp.Error()
	}
	return nil
}

func printReady(w io.Writer, addr, root string, keys [][]byte) {
	fmt.Fprintf(w, "VAULT_ADDR=%s\n", addr)
	fmt.Fprintf(w, "VAULT_TOKEN=%s\n", root)
	for _, k := range keys {
		fmt.Fprintf(w, "VAULT_UNSEAL_KEY=%s\n", base64.StdEncoding.EncodeToString(k))
	}
}

// waitForStop returns when the server fails, a signal arrives or, with
// exitOnEOF, standard input reaches its end.
func waitForStop(served <-chan error, exitOnEOF bool) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	eof := make(chan struct{})
	if exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(eof)
		}()
	}
	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-sig:
	case <-eof:
	}
	return nil
}

// runtimeT is the testing.T that Vault's test-core helpers need outside a
// test: a failure is fatal to the process.
type runtimeT struct {
	testing.RuntimeT
}

// Fatal reports and exits.
func (t *runtimeT) Fatal(args ...interface{}) {
	fmt.Fprintln(os.Stderr, append([]interface{}{"vaultdev:"}, args...)...)
	os.Exit(1)
}

// Fatalf reports and exits.
func (t *runtimeT) Fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "vaultdev: "+format+"\n", args...)
	os.Exit(1)
}
