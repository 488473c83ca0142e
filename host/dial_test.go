package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/agent"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// oneToken is a hand-written plugin.Service with one profile.
type oneToken struct{}

func (oneToken) Get(_ context.Context, profile string, _ keeper.GetOptions) (keeper.Token, error) {
	if profile != "p" {
		return keeper.Token{}, keeper.ErrUnknownProfile
	}
	return keeper.Token{Profile: "p", Provider: "vcf", Access: secret.New("tok"), TokenType: "Bearer",
		HeaderName: "Authorization", HeaderValue: secret.New("Bearer tok"), ExpiresAt: time.Unix(2e9, 0), Fingerprint: "sha256:1"}, nil
}
func (oneToken) Invalidate(context.Context, string, string, string) (bool, error) { return true, nil }
func (oneToken) Revoke(context.Context, string) error                             { return nil }
func (oneToken) Status() []keeper.Status                                          { return nil }

func TestDialRunningAgent(t *testing.T) {
	dir, err := os.MkdirTemp("", "tkd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	root, err := paths.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	p, _ := paths.Locate(root, "/c.yaml", "")
	sock, err := agent.Listen(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- agent.Serve(ctx, sock, agent.Options{Register: func(s *grpc.Server) { plugin.Register(s, oneToken{}, nil) }})
	}()
	defer func() { cancel(); <-served }()

	c, err := Dial(ctx, p.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tok, err := c.Token(ctx, "p", TokenOptions{})
	if err != nil || tok.Access.Reveal() != "tok" || tok.Fingerprint != "sha256:1" {
		t.Fatalf("Token = %+v, %v", tok, err)
	}
	if _, err := c.Token(ctx, "q", TokenOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown profile: %v", err)
	}
}

func TestDialNoAgent(t *testing.T) {
	_, err := Dial(context.Background(), filepath.Join(t.TempDir(), "none.sock"))
	if !errors.Is(err, ErrNoAgent) {
		t.Fatalf("Dial = %v, want ErrNoAgent", err)
	}
}

func TestSocketPathPerConfig(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	a, err := SocketPath("/etc/a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SocketPath("/etc/b.yaml")
	if a == b || filepath.Dir(a) != filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "tokenkeeper") {
		t.Fatalf("a=%s b=%s", a, b)
	}
	t.Setenv("TOKENKEEPER_CONFIG", "/etc/a.yaml")
	if d, err := DefaultSocketPath(); err != nil || d != a {
		t.Fatalf("DefaultSocketPath = %s, %v; want %s", d, err, a)
	}
}
