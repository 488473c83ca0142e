// Package host is the Go side of tokenkeeper: a Client that talks to the
// TokenService of a plugin child (Launch) or of a running agent (Dial), and
// the adapters built on it (an http.RoundTripper, an oauth2.TokenSource).
// It only translates; every lifecycle decision stays in the plugin.
package host

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

// Token is a bearer token and the exact header to send it in.
type Token struct {
	Profile  string
	Provider string // "vcf" or "vcd"
	// TokenType is "Bearer" for JWTs, "vcloud" for legacy VCD tokens.
	TokenType string
	// HeaderName and HeaderValue are the HTTP header to send, e.g.
	// "Authorization: Bearer …"; hosts need not know provider details.
	HeaderName  string
	Access      secret.Secret
	HeaderValue secret.Secret
	// ExpiresAt is when the token stops being valid, in the plugin's clock.
	ExpiresAt time.Time
	// Fingerprint identifies the token for Invalidate and for logs.
	Fingerprint string
	// ShorterThanRequested: the token does not stay valid for the
	// MinValidity asked; it was served under TokenOptions.AllowShorter
	// while upstream was unavailable. ExpiresAt says how long it does.
	ShorterThanRequested bool
}

// TokenOptions tune one Token call.
type TokenOptions struct {
	// MinValidity: the token must stay valid at least this long; zero means
	// the plugin's default.
	MinValidity time.Duration
	// ForceRefresh: go upstream even if the cached token qualifies.
	ForceRefresh bool
	// AllowShorter: when upstream is unavailable and no token valid for
	// MinValidity can be had, accept the cached one while it has not
	// expired (Token.ShorterThanRequested says so) instead of failing
	// with ErrUnavailable.
	AllowShorter bool
}

// ProfileStatus describes one profile without secrets.
type ProfileStatus struct {
	Profile, Provider, URL string
	// State is one of "empty", "valid", "expired", "rejected", "backoff".
	State                                                          string
	AccessExpiresAt                                                time.Time
	RefreshExpiresAt                                               time.Time
	Fingerprint                                                    string
	LastError                                                      string
	RetryAt                                                        time.Time
	LastUsed                                                       time.Time
	Logins, LoginFailures, Refreshes, RefreshFailures, Revocations int64
}

// Client talks to a TokenService. It is safe for concurrent use.
type Client struct {
	cc  grpc.ClientConnInterface
	api tokenkeeperv1.TokenServiceClient

	closeOnce sync.Once
	closeFn   func() error
	closeErr  error // written once under closeOnce
}

// NewClient wraps a connection to a TokenService; closeFn, if not nil, runs
// once on Close (it kills the plugin child or closes the agent connection).
func NewClient(cc grpc.ClientConnInterface, closeFn func() error) *Client {
	return &Client{cc: cc, api: tokenkeeperv1.NewTokenServiceClient(cc), closeFn: closeFn}
}

// Conn returns the underlying connection, e.g. for gRPC health checks.
func (c *Client) Conn() grpc.ClientConnInterface { return c.cc }

// Token returns a token of profile valid for at least o.MinValidity.
func (c *Client) Token(ctx context.Context, profile string, o TokenOptions) (*Token, error) {
	req := &tokenkeeperv1.GetTokenRequest{Profile: profile, ForceRefresh: o.ForceRefresh, AllowShorter: o.AllowShorter}
	if o.MinValidity != 0 {
		req.MinValidity = durationpb.New(o.MinValidity)
	}
	start := time.Now()
	resp, err := c.api.GetToken(ctx, req)
	if err != nil {
		return nil, fromCall(ctx, "get token", profile, start, err)
	}
	t := resp.GetToken()
	return &Token{
		Profile:              t.GetProfile(),
		Provider:             t.GetProvider(),
		TokenType:            t.GetTokenType(),
		HeaderName:           t.GetHeader().GetName(),
		Access:               secret.New(t.GetAccessToken()),
		HeaderValue:          secret.New(t.GetHeader().GetValue()),
		ExpiresAt:            asTime(t.GetExpiresAt()),
		Fingerprint:          t.GetFingerprint(),
		ShorterThanRequested: t.GetShorterThanRequested(),
	}, nil
}

// Invalidate reports that the token with this fingerprint got a 401. The
// plugin drops it only if it is still the current one, so many callers
// reporting the same token cause one refresh.
func (c *Client) Invalidate(ctx context.Context, profile, fingerprint, reason string) error {
	start := time.Now()
	_, err := c.api.Invalidate(ctx, &tokenkeeperv1.InvalidateRequest{
		Profile: profile, Fingerprint: fingerprint, Reason: reason,
	})
	return fromCall(ctx, "invalidate token", profile, start, err)
}

// Revoke logs the profile out upstream and forgets its tokens.
func (c *Client) Revoke(ctx context.Context, profile string) error {
	start := time.Now()
	_, err := c.api.Revoke(ctx, &tokenkeeperv1.RevokeRequest{Profile: profile})
	return fromCall(ctx, "revoke", profile, start, err)
}

// Profiles reports the state of every configured profile.
func (c *Client) Profiles(ctx context.Context) ([]ProfileStatus, error) {
	start := time.Now()
	resp, err := c.api.ListProfiles(ctx, &tokenkeeperv1.ListProfilesRequest{})
	if err != nil {
		return nil, fromCall(ctx, "list profiles", "", start, err)
	}
	out := make([]ProfileStatus, 0, len(resp.GetProfiles()))
	for _, p := range resp.GetProfiles() {
		n := p.GetCounts()
		out = append(out, ProfileStatus{
			Profile: p.GetProfile(), Provider: p.GetProvider(), URL: p.GetUrl(), State: p.GetState(),
			AccessExpiresAt: asTime(p.GetAccessExpiresAt()), RefreshExpiresAt: asTime(p.GetRefreshExpiresAt()),
			Fingerprint: p.GetFingerprint(), LastError: p.GetLastError(),
			RetryAt: asTime(p.GetRetryAt()), LastUsed: asTime(p.GetLastUsed()),
			Logins: n.GetLogins(), LoginFailures: n.GetLoginFailures(), Refreshes: n.GetRefreshes(),
			RefreshFailures: n.GetRefreshFailures(), Revocations: n.GetRevocations(),
		})
	}
	return out, nil
}

// Close ends the client. For a launched plugin it asks the plugin to shut
// down, which revokes every token it holds upstream, and waits for it to
// exit. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		if c.closeFn != nil {
			c.closeErr = c.closeFn()
		}
	})
	if c.closeErr != nil {
		return fmt.Errorf("could not close tokenkeeper client: %w", c.closeErr)
	}
	return nil
}

// asTime maps an absent timestamp to the zero time.
func asTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
