package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// TestRefusedRequestGoesToTheCore: an agent that refuses what the front
// sends (InvalidArgument) — an agent built before the protocol header
// reads the header as its request and refuses it, as this one answers —
// is not the user's error to print: the front parsed the request itself,
// so it hands the call to the core, which asks over gRPC.
func TestRefusedRequestGoesToTheCore(t *testing.T) {
	home, runtime := t.TempDir(), runtimeDir(t)
	cfg := filepath.Join(home, "c.yaml")
	if err := os.WriteFile(cfg, []byte("profiles: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": home, "XDG_RUNTIME_DIR": runtime, "TOKENKEEPER_CONFIG": cfg}
	dir, err := paths.OpenRuntimeDir(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	a, err := agentconn.Locate(dir, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.Names, nil, 0o600); err != nil { // an agent served this configuration
		t.Fatal(err)
	}
	l, err := net.Listen("unix", a.Exec)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = bufio.NewReader(c).ReadString('\n')
			_, _ = c.Write([]byte(`{"apiVersion":"tokenkeeper/v1","kind":"Error","error":{"code":"InvalidArgument","message":"unknown field \"protocol\" in the request on stdin"}}` + "\n"))
			_ = c.Close()
		}
	}()
	for _, args := range [][]string{{"tk", "get", "-p", "sddc", "--timeout", "3s"}, {"tk", "get", "-p", "sddc"}, {"tk", "invalidate", "-p", "sddc", "--fingerprint", "sha256:1"}} {
		f, e := newFront(t, true, env)
		f.Args = args
		run(context.Background(), &f)
		if e.calls != 1 || e.stdout.Len() != 0 {
			t.Errorf("%q: %d execs of the core, stdout %q; want the call handed to the core", args, e.calls, e.stdout.String())
		}
	}
}
