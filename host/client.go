// Package host is the Go side of tokenkeeper: a Client that talks to the
// TokenService of a plugin child (Launch) or of a running agent (Dial), and
// the adapters built on it (an http.RoundTripper, an oauth2.TokenSource).
// It only translates; every lifecycle decision stays in the plugin.
package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	// Principal is who the token speaks for and Role the role it carries,
	// as the upstream names them; empty when it did not say (or an older
	// plugin answered).
	Principal, Role string
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
	// FailedAttempts of the upstream call in flight so far and
	// NextAttemptAt, when it tries again (zero: none in flight or failed
	// yet; an agent older than this field says nothing); LastError names
	// the latest failure.
	FailedAttempts int
	NextAttemptAt  time.Time
	// Principal, Role and Scopes describe the current token as the
	// upstream does (empty: no token, or it did not say).
	Principal, Role string
	Scopes          []string
}

// Client talks to a TokenService. It is safe for concurrent use.
type Client struct {
	// agent is set when Dial made the client: a call the agent failed by
	// going away runs once more on its successor (see Dial).
	agent *agentLink

	mu sync.Mutex // guards conn, retired and closed
	// conn is the connection calls use; Dial's client replaces it when
	// the agent retires.
	conn connection
	// retired are the closers of replaced connections: closed by Close,
	// not at once, so that a call still running on one is not cut off.
	retired []func() error
	// closed: Close ran; no connection is opened after it.
	closed bool

	closeOnce sync.Once
	closeErr  error // written once under closeOnce
}

// connection is one connection to a TokenService and what closes it.
type connection struct {
	cc      grpc.ClientConnInterface
	api     tokenkeeperv1.TokenServiceClient
	closeFn func() error
	gen     int // counts replacements, so that racing callers replace once
}

// NewClient wraps a connection to a TokenService; closeFn, if not nil, runs
// once on Close (it kills the plugin child or closes the agent connection).
func NewClient(cc grpc.ClientConnInterface, closeFn func() error) *Client {
	return &Client{conn: connection{cc: cc, api: tokenkeeperv1.NewTokenServiceClient(cc), closeFn: closeFn}}
}

// Conn returns the underlying connection, e.g. for gRPC health checks. A
// client of the agent (Dial) replaces it when the agent retires.
func (c *Client) Conn() grpc.ClientConnInterface { return c.current().cc }

func (c *Client) current() connection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// do runs call and turns its error into an *Error (fromCall). On a client
// of the agent, a call that failed as unavailable while the agent left its
// socket runs once more on the agent found (or started) now; when there
// is none, the error matches ErrNoAgent too.
func (c *Client) do(ctx context.Context, op, profile string, call func(tokenkeeperv1.TokenServiceClient) error) error {
	start := time.Now()
	conn := c.current()
	err := call(conn.api)
	if err == nil || c.agent == nil || status.Code(err) != codes.Unavailable || ctx.Err() != nil ||
		!c.agent.finder.Left(ctx, c.agent.pid.Load()) {
		return fromCall(ctx, op, profile, start, err)
	}
	next, rerr := c.replace(ctx, conn.gen)
	if rerr != nil {
		return fmt.Errorf("%w; no agent took over: %w", fromCall(ctx, op, profile, start, err), rerr)
	}
	return fromCall(ctx, op, profile, start, call(next.api))
}

// replace connects to the agent that listens now, unless another caller
// already replaced connection gen.
func (c *Client) replace(ctx context.Context, gen int) (connection, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return connection{}, errors.New("the client is closed")
	}
	if c.conn.gen != gen {
		return c.conn, nil
	}
	cc, closeFn, err := c.agent.open(ctx)
	if err != nil {
		return connection{}, err
	}
	c.retired = append(c.retired, c.conn.closeFn)
	c.conn = connection{cc: cc, api: tokenkeeperv1.NewTokenServiceClient(cc), closeFn: closeFn, gen: gen + 1}
	return c.conn, nil
}

// Token returns a token of profile valid for at least o.MinValidity.
func (c *Client) Token(ctx context.Context, profile string, o TokenOptions) (*Token, error) {
	req := &tokenkeeperv1.GetTokenRequest{Profile: profile, ForceRefresh: o.ForceRefresh, AllowShorter: o.AllowShorter}
	if o.MinValidity != 0 {
		req.MinValidity = durationpb.New(o.MinValidity)
	}
	var resp *tokenkeeperv1.GetTokenResponse
	err := c.do(ctx, "get token", profile, func(api tokenkeeperv1.TokenServiceClient) (err error) {
		resp, err = api.GetToken(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
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
		Principal:            t.GetPrincipal(),
		Role:                 t.GetRole(),
	}, nil
}

// Invalidate reports that the token with this fingerprint got a 401. The
// plugin drops it only if it is still the current one, so many callers
// reporting the same token cause one refresh.
func (c *Client) Invalidate(ctx context.Context, profile, fingerprint, reason string) error {
	return c.do(ctx, "invalidate token", profile, func(api tokenkeeperv1.TokenServiceClient) error {
		_, err := api.Invalidate(ctx, &tokenkeeperv1.InvalidateRequest{
			Profile: profile, Fingerprint: fingerprint, Reason: reason,
		})
		return err
	})
}

// Revoke logs the profile out upstream and forgets its tokens.
func (c *Client) Revoke(ctx context.Context, profile string) error {
	return c.do(ctx, "revoke", profile, func(api tokenkeeperv1.TokenServiceClient) error {
		_, err := api.Revoke(ctx, &tokenkeeperv1.RevokeRequest{Profile: profile})
		return err
	})
}

// Profiles reports the state of every configured profile.
func (c *Client) Profiles(ctx context.Context) ([]ProfileStatus, error) {
	var resp *tokenkeeperv1.ListProfilesResponse
	err := c.do(ctx, "list profiles", "", func(api tokenkeeperv1.TokenServiceClient) (err error) {
		resp, err = api.ListProfiles(ctx, &tokenkeeperv1.ListProfilesRequest{})
		return err
	})
	if err != nil {
		return nil, err
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
			FailedAttempts: int(p.GetFailedAttempts()), NextAttemptAt: asTime(p.GetNextAttemptAt()),
			Principal: p.GetPrincipal(), Role: p.GetRole(), Scopes: p.GetScopes(),
		})
	}
	return out, nil
}

// Close ends the client. For a launched plugin it asks the plugin to shut
// down, which revokes every token it holds upstream, and waits for it to
// exit. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.closed = true
		for _, f := range append(c.retired, c.conn.closeFn) {
			if f != nil {
				c.closeErr = errors.Join(c.closeErr, f())
			}
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
