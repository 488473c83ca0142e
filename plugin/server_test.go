package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

// fakeService records the last call and answers with canned values.
type fakeService struct {
	mu         sync.Mutex // guards every field
	token      keeper.Token
	err        error
	dropped    bool
	statuses   []keeper.Status
	gotProfile string
	gotOpts    keeper.GetOptions
	gotFP      string
	gotReason  string
	revoked    string
}

func (f *fakeService) Get(_ context.Context, profile string, o keeper.GetOptions) (keeper.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gotProfile, f.gotOpts = profile, o
	return f.token, f.err
}

func (f *fakeService) Invalidate(_ context.Context, profile, fp, reason string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gotProfile, f.gotFP, f.gotReason = profile, fp, reason
	return f.dropped, f.err
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

// connect serves svc through go-plugin's in-process gRPC harness and returns
// the dispensed client.
func connect(t *testing.T, svc Service) tokenkeeperv1.TokenServiceClient {
	t.Helper()
	client, server := goplugin.TestPluginGRPCConn(t, false, map[string]goplugin.Plugin{
		wire.PluginName: &GRPCPlugin{Service: svc},
	})
	// Close asks the server to stop through go-plugin's controller, like a
	// host does; stopping it here too would race with that.
	t.Cleanup(func() { _ = client.Close(); <-server.DoneCh })
	raw, err := client.Dispense(wire.PluginName)
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	c, ok := raw.(tokenkeeperv1.TokenServiceClient)
	if !ok {
		t.Fatalf("dispensed %T, want TokenServiceClient", raw)
	}
	return c
}

func TestGetTokenRoundTripsEveryField(t *testing.T) {
	exp := time.Date(2026, 11, 22, 11, 40, 0, 123000000, time.UTC)
	svc := &fakeService{token: keeper.Token{
		Profile: "sddc", Provider: "vcf", Access: secret.New("tok-abc"), TokenType: "Bearer",
		HeaderName: "Authorization", HeaderValue: secret.New("Bearer tok-abc"),
		ExpiresAt: exp, Fingerprint: "sha256:0011223344556677",
	}}
	c := connect(t, svc)
	resp, err := c.GetToken(context.Background(), &tokenkeeperv1.GetTokenRequest{
		Profile: "sddc", MinValidity: durationpb.New(10 * time.Minute), ForceRefresh: true,
	})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	got := resp.GetToken()
	if got.GetProfile() != "sddc" || got.GetProvider() != "vcf" || got.GetAccessToken() != "tok-abc" ||
		got.GetTokenType() != "Bearer" || got.GetHeader().GetName() != "Authorization" ||
		got.GetHeader().GetValue() != "Bearer tok-abc" || !got.GetExpiresAt().AsTime().Equal(exp) ||
		got.GetFingerprint() != "sha256:0011223344556677" {
		t.Errorf("token fields did not survive the round trip: profile=%q provider=%q type=%q header=%q expires=%v fp=%q",
			got.GetProfile(), got.GetProvider(), got.GetTokenType(), got.GetHeader().GetName(), got.GetExpiresAt().AsTime(), got.GetFingerprint())
	}
	if svc.gotProfile != "sddc" || svc.gotOpts != (keeper.GetOptions{MinValidity: 10 * time.Minute, ForceRefresh: true}) {
		t.Errorf("service got profile=%q opts=%+v", svc.gotProfile, svc.gotOpts)
	}
}

func TestGetTokenRejectsBadRequests(t *testing.T) {
	c := connect(t, &fakeService{})
	tests := []struct {
		name string
		req  *tokenkeeperv1.GetTokenRequest
	}{
		{"empty profile", &tokenkeeperv1.GetTokenRequest{}},
		{"negative min_validity", &tokenkeeperv1.GetTokenRequest{Profile: "p", MinValidity: durationpb.New(-time.Second)}},
		{"absurd min_validity", &tokenkeeperv1.GetTokenRequest{Profile: "p", MinValidity: durationpb.New(MaxMinValidity + time.Second)}},
		{"malformed min_validity", &tokenkeeperv1.GetTokenRequest{Profile: "p", MinValidity: &durationpb.Duration{Seconds: 1, Nanos: -5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.GetToken(context.Background(), tt.req)
			if code := status.Code(err); code != codes.InvalidArgument {
				t.Fatalf("code = %v (%v), want InvalidArgument", code, err)
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	retryAt := time.Now().Add(90 * time.Second).UTC()
	upstream := func(kind error) error {
		return fmt.Errorf("log in: %w", &provider.Error{Op: "login", Method: "POST", Path: "/v1/tokens", Status: 400, Kind: kind})
	}
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason string
	}{
		{"unknown profile", fmt.Errorf("profile %q: %w", "x", keeper.ErrUnknownProfile), codes.NotFound, ""},
		{"min validity beyond the lifetime", fmt.Errorf("profile %q: %w", "p", keeper.ErrMinValidity), codes.InvalidArgument, ""},
		{"lockout guard", &keeper.GuardError{Profile: "p", RetryAt: retryAt, Cause: provider.ErrCredentialsRejected}, codes.FailedPrecondition, wire.ReasonLockoutGuard},
		{"credentials rejected", upstream(provider.ErrCredentialsRejected), codes.Unauthenticated, ""},
		{"forbidden", upstream(provider.ErrForbidden), codes.PermissionDenied, ""},
		{"unavailable", upstream(provider.ErrUnavailable), codes.Unavailable, ""},
		{"deadline", fmt.Errorf("refresh access token: %w", context.DeadlineExceeded), codes.Unavailable, ""},
		{"closed", keeper.ErrClosed, codes.Unavailable, ""},
		{"canceled", context.Canceled, codes.Canceled, ""},
		{"bad config", upstream(provider.ErrBadConfig), codes.FailedPrecondition, wire.ReasonBadConfig},
		{"protocol", upstream(provider.ErrProtocol), codes.Internal, ""},
		// A secret that cannot be read is bad configuration on every path
		// (the CLI without agent classifies with the same function).
		{"secret command failing", fmt.Errorf("could not read the password: %w",
			&secret.Error{Ref: "command false", Err: secret.ErrCommandFailed}), codes.FailedPrecondition, wire.ReasonBadConfig},
		{"secret file world-readable", &secret.Error{Ref: "file /x", Err: secret.ErrInsecurePermissions}, codes.FailedPrecondition, wire.ReasonBadConfig},
		{"config error", &config.Error{Msg: "unknown field"}, codes.FailedPrecondition, wire.ReasonBadConfig},
		{"unknown profile in config", fmt.Errorf("x: %w", config.ErrUnknownProfile), codes.NotFound, ""},
		{"runtime dir not private", fmt.Errorf("/run/x: %w", paths.ErrInsecureDir), codes.FailedPrecondition, wire.ReasonBadConfig},
		// A rotated token that could not be stored is retryable even though
		// the cause is a secret error: the provider's class wins.
		{"secret store failing under Unavailable", fmt.Errorf("login: not stored: %w (%w)",
			&secret.Error{Ref: "file /sa", Err: errors.New("disk full")}, provider.ErrUnavailable), codes.Unavailable, ""},
		{"secret command killed by the caller's deadline", &secret.Error{Ref: "command pass",
			Err: fmt.Errorf("%w: %w", secret.ErrCommandFailed, context.DeadlineExceeded)}, codes.Unavailable, ""},
		{"forwarded status", status.Error(codes.ResourceExhausted, "slow down"), codes.ResourceExhausted, ""},
		{"other", errors.New("boom"), codes.Internal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, &fakeService{err: tt.err})
			_, err := c.GetToken(context.Background(), &tokenkeeperv1.GetTokenRequest{Profile: "p"})
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code = %v, want %v (%v)", st.Code(), tt.code, err)
			}
			if got := reason(st); got != tt.reason {
				t.Errorf("ErrorInfo reason = %q, want %q", got, tt.reason)
			}
			if !strings.Contains(st.Message(), tt.err.Error()) && tt.name != "forwarded status" {
				t.Errorf("message %q lost the cause %q", st.Message(), tt.err.Error())
			}
		})
	}
}

func reason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

func TestLockoutGuardCarriesRetryTime(t *testing.T) {
	retryAt := time.Now().Add(2 * time.Minute).UTC().Truncate(time.Second)
	c := connect(t, &fakeService{err: &keeper.GuardError{Profile: "p", RetryAt: retryAt, Cause: provider.ErrCredentialsRejected}})
	_, err := c.GetToken(context.Background(), &tokenkeeperv1.GetTokenRequest{Profile: "p"})
	st := status.Convert(err)
	if !strings.Contains(st.Message(), retryAt.Format(time.RFC3339)) {
		t.Errorf("message %q does not name the retry time %s", st.Message(), retryAt.Format(time.RFC3339))
	}
	var sawInfo, sawRetry bool
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			at, perr := time.Parse(time.RFC3339Nano, d.GetMetadata()["retry_at"])
			sawInfo = perr == nil && at.Equal(retryAt)
		case *errdetails.RetryInfo:
			delay := d.GetRetryDelay().AsDuration()
			sawRetry = delay > time.Minute && delay <= 2*time.Minute
		}
	}
	if !sawInfo || !sawRetry {
		t.Errorf("details = %v; want ErrorInfo.retry_at=%s and RetryInfo ≈2m", st.Details(), retryAt)
	}
}

func TestInvalidateRevokeAndList(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	svc := &fakeService{dropped: true, statuses: []keeper.Status{{
		Profile: "sddc", Provider: "vcf", URL: "https://sddc", State: keeper.StateValid,
		AccessExpiresAt: at, RefreshExpiresAt: at.Add(time.Hour), Fingerprint: "sha256:aa",
		LastError: "none", RetryAt: at.Add(2 * time.Hour), LastUsed: at.Add(-time.Minute),
		Counts: keeper.Counts{Logins: 1, LoginFailures: 2, Refreshes: 3, RefreshFailures: 4, Revocations: 5},
	}, {Profile: "empty", State: keeper.StateEmpty}}}
	c := connect(t, svc)
	ctx := context.Background()

	inv, err := c.Invalidate(ctx, &tokenkeeperv1.InvalidateRequest{Profile: "sddc", Fingerprint: "sha256:aa", Reason: "401 from GET /v1/domains"})
	if err != nil || !inv.GetDropped() || svc.gotFP != "sha256:aa" || svc.gotReason != "401 from GET /v1/domains" {
		t.Errorf("Invalidate = %v, %v; service saw fp=%q reason=%q", inv, err, svc.gotFP, svc.gotReason)
	}
	if _, err := c.Invalidate(ctx, &tokenkeeperv1.InvalidateRequest{Profile: "sddc"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Invalidate without fingerprint: %v, want InvalidArgument", err)
	}
	if _, err := c.Revoke(ctx, &tokenkeeperv1.RevokeRequest{Profile: "sddc"}); err != nil || svc.revoked != "sddc" {
		t.Errorf("Revoke: %v, service saw %q", err, svc.revoked)
	}
	if _, err := c.Revoke(ctx, &tokenkeeperv1.RevokeRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Revoke without profile: %v, want InvalidArgument", err)
	}

	list, err := c.ListProfiles(ctx, &tokenkeeperv1.ListProfilesRequest{})
	if err != nil || len(list.GetProfiles()) != 2 {
		t.Fatalf("ListProfiles = %v, %v", list, err)
	}
	p := list.GetProfiles()[0]
	n := p.GetCounts()
	if p.GetProfile() != "sddc" || p.GetProvider() != "vcf" || p.GetUrl() != "https://sddc" || p.GetState() != "valid" ||
		!p.GetAccessExpiresAt().AsTime().Equal(at) || !p.GetRefreshExpiresAt().AsTime().Equal(at.Add(time.Hour)) ||
		p.GetFingerprint() != "sha256:aa" || p.GetLastError() != "none" || !p.GetRetryAt().AsTime().Equal(at.Add(2*time.Hour)) ||
		!p.GetLastUsed().AsTime().Equal(at.Add(-time.Minute)) ||
		n.GetLogins() != 1 || n.GetLoginFailures() != 2 || n.GetRefreshes() != 3 || n.GetRefreshFailures() != 4 || n.GetRevocations() != 5 {
		t.Errorf("status did not survive the round trip: %v", p)
	}
	if e := list.GetProfiles()[1]; e.GetAccessExpiresAt() != nil || e.GetRetryAt() != nil || e.GetLastUsed() != nil {
		t.Errorf("zero times must be absent, got %v", e)
	}
}
