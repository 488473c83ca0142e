package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// TestPluginTimeoutNamesCause: a profile whose upstream refuses
// connections, asked for with a deadline. The keeper retries until the
// deadline; the answer must name the profile and the cause, on time —
// not the caller's bare "context deadline exceeded", the server's
// "RST_STREAM … CANCEL", or "agent did not become ready", which is what
// the caller saw when its deadline and the one gRPC propagates to the
// server passed at the same instant. Through the agent (a cold start,
// then the running agent) and through a Go host of the plugin.
func TestPluginTimeoutNamesCause(t *testing.T) {
	t.Parallel()
	tokenkeeper, _ := binaries(t)
	addr := closedPort(t)
	tk := newTK(t, downConfig(addr), "TK_E2E_PW="+e2ePassword)
	wantMsg := []string{`profile "down"`, "connection refused", addr}
	for _, run := range []string{"cold agent", "running agent"} {
		t.Run(run, func(t *testing.T) {
			start := time.Now()
			r := tk.run(t, nil, "get", "--profile", "down", "--timeout", "3s")
			took := time.Since(start)
			if r.code != 5 {
				t.Fatalf("exit %d, want 5 (unavailable); stderr %q", r.code, r.stderr)
			}
			doc := checkErrorOutput(t, r, e2ePassword)
			if doc.Error.Code != "Unavailable" || !doc.Error.Retryable {
				t.Errorf("error %+v, want code Unavailable, retryable", doc.Error)
			}
			for _, w := range wantMsg {
				if !strings.Contains(doc.Error.Message, w) || !strings.Contains(r.stderr, w) {
					t.Errorf("message %q / stderr %q does not name %q", doc.Error.Message, r.stderr, w)
				}
			}
			if took > 5*time.Second {
				t.Errorf("get --timeout 3s took %s", took)
			}
		})
	}

	t.Run("plugin host", func(t *testing.T) {
		c, err := launch(t, host.LaunchOptions{Path: tokenkeeper, ConfigPath: tk.config,
			Env: []string{"XDG_RUNTIME_DIR=" + tk.runtime, "TK_E2E_PW=" + e2ePassword}})
		if err != nil {
			t.Fatalf("Launch: %v", err)
		}
		callCtx, callCancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer callCancel()
		_, err = c.Token(callCtx, "down", host.TokenOptions{})
		var he *host.Error
		if !errors.As(err, &he) || he.Code != codes.Unavailable || !errors.Is(err, host.ErrUnavailable) {
			t.Fatalf("Token: %v, want the plugin's Unavailable", err)
		}
		for _, w := range wantMsg {
			if !strings.Contains(he.Message, w) {
				t.Errorf("message %q does not name %q", he.Message, w)
			}
		}
	})
}

// closedPort is a loopback address nothing listens on: a listener's port,
// closed again.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// downConfig is a profiles file with one profile, "down", whose upstream
// is addr (closedPort: it refuses connections).
func downConfig(addr string) string {
	return fmt.Sprintf(`profiles:
  down:
    provider: vcf
    url: https://%s
    username: admin@local
    password: {env: TK_E2E_PW}
`, addr)
}
