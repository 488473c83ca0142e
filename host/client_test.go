package host

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// fakeService is a hand-written plugin.Service with canned answers.
type fakeService struct {
	mu       sync.Mutex // guards every field
	token    keeper.Token
	err      error
	statuses []keeper.Status
	gotOpts  keeper.GetOptions
	gotFP    string
	revoked  string
}

func (f *fakeService) Get(_ context.Context, _ string, o keeper.GetOptions) (keeper.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gotOpts = o
	return f.token, f.err
}

func (f *fakeService) Invalidate(_ context.Context, _, fp, _ string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gotFP = fp
	return true, f.err
}

func (f *fakeService) Revoke(_ context.Context, profile string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = profile
	return f.err
}

func (f *fakeService) Status() []keeper.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statuses
}

// serve runs the real gRPC server adapter over svc on an in-memory
// connection and returns a Client on it.
func serve(t *testing.T, svc plugin.Service) *Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	plugin.Register(s, svc, nil)
	go func() { _ = s.Serve(lis) }()
	cc, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	closed := 0
	c := NewClient(cc, func() error { closed++; return cc.Close() })
	t.Cleanup(func() {
		if err := c.Close(); err != nil || closed != 1 {
			t.Errorf("Close = %v, closeFn ran %d times", err, closed)
		}
		_ = c.Close()
		s.Stop()
	})
	return c
}

func TestClientToken(t *testing.T) {
	exp := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	svc := &fakeService{token: keeper.Token{
		Profile: "sddc", Provider: "vcf", Access: secret.New("tok"), TokenType: "Bearer",
		HeaderName: "Authorization", HeaderValue: secret.New("Bearer tok"), ExpiresAt: exp, Fingerprint: "sha256:01",
	}}
	c := serve(t, svc)
	tok, err := c.Token(context.Background(), "sddc", TokenOptions{MinValidity: 5 * time.Minute, ForceRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Profile != "sddc" || tok.Provider != "vcf" || tok.Access.Reveal() != "tok" || tok.TokenType != "Bearer" ||
		tok.HeaderName != "Authorization" || tok.HeaderValue.Reveal() != "Bearer tok" || !tok.ExpiresAt.Equal(exp) || tok.Fingerprint != "sha256:01" {
		t.Errorf("token = %+v", tok)
	}
	if svc.gotOpts != (keeper.GetOptions{MinValidity: 5 * time.Minute, ForceRefresh: true}) {
		t.Errorf("service got %+v", svc.gotOpts)
	}
}

func TestClientInvalidateRevokeProfiles(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	svc := &fakeService{statuses: []keeper.Status{{Profile: "sddc", Provider: "vcf", URL: "https://x", State: keeper.StateValid,
		AccessExpiresAt: at, Fingerprint: "sha256:01", Counts: keeper.Counts{Logins: 1, Refreshes: 2, Revocations: 3}}}}
	c := serve(t, svc)
	ctx := context.Background()
	if err := c.Invalidate(ctx, "sddc", "sha256:01", "401"); err != nil || svc.gotFP != "sha256:01" {
		t.Errorf("Invalidate = %v, service saw %q", err, svc.gotFP)
	}
	if err := c.Revoke(ctx, "sddc"); err != nil || svc.revoked != "sddc" {
		t.Errorf("Revoke = %v, service saw %q", err, svc.revoked)
	}
	ps, err := c.Profiles(ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Profiles = %v, %v", ps, err)
	}
	p := ps[0]
	if p.Profile != "sddc" || p.State != "valid" || !p.AccessExpiresAt.Equal(at) || !p.RefreshExpiresAt.IsZero() ||
		p.Logins != 1 || p.Refreshes != 2 || p.Revocations != 3 || p.Fingerprint != "sha256:01" || p.URL != "https://x" {
		t.Errorf("profile = %+v", p)
	}
}

func TestClientErrorsMapToSentinels(t *testing.T) {
	retryAt := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	rejected := &provider.Error{Op: "login", Status: 401, Kind: provider.ErrCredentialsRejected}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unauthenticated", rejected, ErrUnauthenticated},
		{"permission denied", &provider.Error{Op: "login", Kind: provider.ErrForbidden}, ErrPermissionDenied},
		{"not found", keeper.ErrUnknownProfile, ErrNotFound},
		{"unavailable", &provider.Error{Op: "login", Kind: provider.ErrUnavailable}, ErrUnavailable},
		{"locked out", &keeper.GuardError{Profile: "p", RetryAt: retryAt, Cause: rejected}, ErrLockedOut},
		{"bad config", &provider.Error{Op: "login", Kind: provider.ErrBadConfig}, ErrBadConfig},
		{"internal", errors.New("boom"), ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, &fakeService{err: tt.err})
			_, err := c.Token(context.Background(), "p", TokenOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Profile != "p" {
				t.Fatalf("err = %#v, want *host.Error for profile p", err)
			}
			if tt.want == ErrLockedOut && !e.RetryAt.Equal(retryAt) {
				t.Errorf("RetryAt = %v, want %v", e.RetryAt, retryAt)
			}
		})
	}
	c := serve(t, &fakeService{})
	if _, err := c.Token(context.Background(), "p", TokenOptions{MinValidity: -time.Second}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative MinValidity: %v, want ErrInvalidArgument", err)
	}
}
