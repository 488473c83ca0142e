package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// TestGoHostFindsEnvAgent: a Go host (the Packer data source's way:
// host.SocketPath, host.Dial) reaches the agent `tokenkeeper get` started
// for a configuration with a {env: …} secret, when its own environment
// gives the variable the same value: its token costs no second login. With
// another value it finds no agent (and would launch its own helper). The
// names file the agent left lists the variable, never its value.
func TestGoHostFindsEnvAgent(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: VCF_PW}"), "VCF_PW="+e2ePassword)
	if r := tk.run(t, nil, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get: exit %d: %s", r.code, r.stderr)
	}
	t.Setenv("XDG_RUNTIME_DIR", tk.runtime)
	t.Setenv("VCF_PW", e2ePassword)

	names, err := filepath.Glob(filepath.Join(tk.runtime, "tokenkeeper", "agent-*.env"))
	if err != nil || len(names) != 1 {
		t.Fatalf("names files %v (%v), want one", names, err)
	}
	b, err := os.ReadFile(names[0])
	if err != nil || string(b) != "VCF_PW\n" || strings.Contains(string(b), e2ePassword) {
		t.Fatalf("names file holds %q (%v), want the name VCF_PW only", b, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sock, err := host.SocketPath(tk.config)
	if err != nil {
		t.Fatal(err)
	}
	c, err := host.Dial(ctx, sock)
	if err != nil {
		t.Fatalf("the host found no agent at %s: %v", sock, err)
	}
	defer c.Close()
	if _, err := c.Token(ctx, "sddc", host.TokenOptions{}); err != nil {
		t.Fatalf("token from the agent: %v", err)
	}
	if st := s.Stats(t); st.Logins != 1 {
		t.Fatalf("after the host's token: %d logins, want the agent's 1", st.Logins)
	}

	t.Setenv("VCF_PW", "another-value-3")
	other, err := host.SocketPath(tk.config)
	if err != nil {
		t.Fatal(err)
	}
	if other == sock {
		t.Fatalf("another VCF_PW gives the same socket %s", sock)
	}
	if c, err := host.Dial(ctx, other); !errors.Is(err, host.ErrNoAgent) {
		if c != nil {
			_ = c.Close()
		}
		t.Fatalf("Dial with another VCF_PW: %v, want ErrNoAgent", err)
	}
}
