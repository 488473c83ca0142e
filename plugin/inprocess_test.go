package plugin

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// TestInProcessClient: a host.Client over InProcess sees what a client of
// the served TokenService sees — every token and status field, and errors
// as the same codes and reasons.
func TestInProcessClient(t *testing.T) {
	exp := time.Date(2026, 11, 22, 11, 40, 0, 0, time.UTC)
	svc := &fakeService{
		token: keeper.Token{Profile: "sddc", Provider: "vcf", Access: secret.New("tok-abc"), TokenType: "Bearer",
			HeaderName: "Authorization", HeaderValue: secret.New("Bearer tok-abc"), ExpiresAt: exp, Fingerprint: "sha256:00"},
		dropped:  true,
		statuses: []keeper.Status{{Profile: "sddc", Provider: "vcf", URL: "https://x", State: "valid", AccessExpiresAt: exp, Counts: keeper.Counts{Logins: 2}}},
	}
	c := host.NewClient(InProcess(svc, nil), nil)
	ctx := context.Background()
	tok, err := c.Token(ctx, "sddc", host.TokenOptions{MinValidity: time.Minute, ForceRefresh: true})
	if err != nil {
		t.Fatal(err)
	}
	want := host.Token{Profile: "sddc", Provider: "vcf", TokenType: "Bearer", HeaderName: "Authorization",
		Access: secret.New("tok-abc"), HeaderValue: secret.New("Bearer tok-abc"), ExpiresAt: exp, Fingerprint: "sha256:00"}
	if tok.Access.Reveal() != "tok-abc" || tok.HeaderValue.Reveal() != "Bearer tok-abc" ||
		tok.Profile != want.Profile || tok.Provider != want.Provider || tok.TokenType != want.TokenType ||
		tok.HeaderName != want.HeaderName || !tok.ExpiresAt.Equal(exp) || tok.Fingerprint != want.Fingerprint {
		t.Errorf("token fields lost in process: %+v", tok)
	}
	if svc.gotOpts != (keeper.GetOptions{MinValidity: time.Minute, ForceRefresh: true}) {
		t.Errorf("service got %+v", svc.gotOpts)
	}
	if err := c.Invalidate(ctx, "sddc", "sha256:00", "401"); err != nil || svc.gotFP != "sha256:00" {
		t.Errorf("Invalidate: %v (service got %q)", err, svc.gotFP)
	}
	if err := c.Revoke(ctx, "sddc"); err != nil || svc.revoked != "sddc" {
		t.Errorf("Revoke: %v (service revoked %q)", err, svc.revoked)
	}
	ps, err := c.Profiles(ctx)
	if err != nil || len(ps) != 1 || ps[0].State != "valid" || ps[0].Logins != 2 || !ps[0].AccessExpiresAt.Equal(exp) {
		t.Errorf("Profiles = %+v, %v", ps, err)
	}

	svc.err = &secret.Error{Ref: "command false", Err: secret.ErrCommandFailed}
	_, err = c.Token(ctx, "sddc", host.TokenOptions{})
	var he *host.Error
	if !errors.As(err, &he) || he.Code != codes.FailedPrecondition || he.Reason != wire.ReasonBadConfig || !errors.Is(err, host.ErrBadConfig) {
		t.Fatalf("error in process = %v, want FailedPrecondition/BAD_CONFIG as over gRPC", err)
	}
	if _, err := c.Token(ctx, "", host.TokenOptions{}); !errors.Is(err, host.ErrInvalidArgument) {
		t.Errorf("empty profile: %v, want ErrInvalidArgument (the server's validation runs)", err)
	}
}
