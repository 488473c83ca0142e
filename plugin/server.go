package plugin

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

// MaxMinValidity bounds GetTokenRequest.min_validity. No upstream issues
// access tokens living a day, so a larger request is a caller's bug (a
// nanoseconds/seconds mix-up), refused rather than answered with a login
// loop.
const MaxMinValidity = 24 * time.Hour

// Service is what the gRPC server exposes; *keeper.Keeper satisfies it, and
// so can a forwarding client (the agent) or a test fake.
type Service interface {
	Get(ctx context.Context, profile string, o keeper.GetOptions) (keeper.Token, error)
	Invalidate(ctx context.Context, profile, fingerprint, reason string) (bool, error)
	Revoke(ctx context.Context, profile string) error
	Status() []keeper.Status
}

// Register serves svc as tokenkeeper.v1.TokenService on s. It is used by
// plugin mode (through GRPCPlugin) and by the agent on its unix socket.
// A nil logger discards the per-call debug lines.
func Register(s *grpc.Server, svc Service, logger hclog.Logger) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	tokenkeeperv1.RegisterTokenServiceServer(s, &server{svc: svc, logger: logger, reserve: true})
}

// server translates between the proto messages and Service. It owns no
// state and makes no decisions.
type server struct {
	tokenkeeperv1.UnimplementedTokenServiceServer
	svc    Service
	logger hclog.Logger
	// reserve: answer a reply reserve before the caller's deadline
	// (answerInTime). A remote caller needs it; an in-process one gets
	// the error directly and can use all of its time.
	reserve bool
}

// callContext is the context a Service call runs on.
func (s *server) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if !s.reserve {
		return ctx, func() {}
	}
	return answerInTime(ctx, time.Now())
}

func (s *server) GetToken(ctx context.Context, req *tokenkeeperv1.GetTokenRequest) (*tokenkeeperv1.GetTokenResponse, error) {
	if req.GetProfile() == "" {
		return nil, status.Error(codes.InvalidArgument, "profile is required")
	}
	minValidity, err := minValidity(req.GetMinValidity())
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	tok, err := s.svc.Get(ctx, req.GetProfile(), keeper.GetOptions{
		MinValidity:  minValidity,
		ForceRefresh: req.GetForceRefresh(),
		AllowShorter: req.GetAllowShorter(),
	})
	if err != nil {
		return nil, s.fail("GetToken", req.GetProfile(), err)
	}
	s.logger.Trace("GetToken", "profile", tok.Profile, "fingerprint", tok.Fingerprint, "expires_at", tok.ExpiresAt)
	return &tokenkeeperv1.GetTokenResponse{Token: tokenToProto(tok)}, nil
}

func (s *server) Invalidate(ctx context.Context, req *tokenkeeperv1.InvalidateRequest) (*tokenkeeperv1.InvalidateResponse, error) {
	if req.GetProfile() == "" {
		return nil, status.Error(codes.InvalidArgument, "profile is required")
	}
	if req.GetFingerprint() == "" {
		return nil, status.Error(codes.InvalidArgument, "fingerprint is required")
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	dropped, err := s.svc.Invalidate(ctx, req.GetProfile(), req.GetFingerprint(), req.GetReason())
	if err != nil {
		return nil, s.fail("Invalidate", req.GetProfile(), err)
	}
	s.logger.Debug("Invalidate", "profile", req.GetProfile(), "fingerprint", req.GetFingerprint(), "dropped", dropped)
	return &tokenkeeperv1.InvalidateResponse{Dropped: dropped}, nil
}

func (s *server) Revoke(ctx context.Context, req *tokenkeeperv1.RevokeRequest) (*tokenkeeperv1.RevokeResponse, error) {
	if req.GetProfile() == "" {
		return nil, status.Error(codes.InvalidArgument, "profile is required")
	}
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	if err := s.svc.Revoke(ctx, req.GetProfile()); err != nil {
		return nil, s.fail("Revoke", req.GetProfile(), err)
	}
	s.logger.Debug("Revoke", "profile", req.GetProfile())
	return &tokenkeeperv1.RevokeResponse{}, nil
}

func (s *server) ListProfiles(context.Context, *tokenkeeperv1.ListProfilesRequest) (*tokenkeeperv1.ListProfilesResponse, error) {
	st := s.svc.Status()
	out := make([]*tokenkeeperv1.ProfileStatus, 0, len(st))
	for _, p := range st {
		out = append(out, statusToProto(p))
	}
	return &tokenkeeperv1.ListProfilesResponse{Profiles: out}, nil
}

// fail logs a failed call (the error text is secret-free by contract) and
// turns it into a gRPC status.
func (s *server) fail(method, profile string, err error) error {
	st := ErrorStatus(err, time.Now())
	s.logger.Debug(method+" failed", "profile", profile, "code", st.Code().String(), "error", st.Message())
	return st.Err()
}

// minValidity validates and converts the requested minimum validity; an
// absent value means the keeper's default.
func minValidity(d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, status.Errorf(codes.InvalidArgument, "min_validity: %v", err)
	}
	v := d.AsDuration()
	if v < 0 {
		return 0, status.Errorf(codes.InvalidArgument, "min_validity %s is negative", v)
	}
	if v > MaxMinValidity {
		return 0, status.Errorf(codes.InvalidArgument, "min_validity %s exceeds the maximum of %s", v, MaxMinValidity)
	}
	return v, nil
}

func tokenToProto(t keeper.Token) *tokenkeeperv1.Token {
	return &tokenkeeperv1.Token{
		Profile:     t.Profile,
		Provider:    t.Provider,
		AccessToken: t.Access.Reveal(),
		TokenType:   t.TokenType,
		Header: &tokenkeeperv1.Header{
			Name:  t.HeaderName,
			Value: t.HeaderValue.Reveal(),
		},
		ExpiresAt:            timestamp(t.ExpiresAt),
		Fingerprint:          t.Fingerprint,
		ShorterThanRequested: t.Shorter,
		Principal:            t.Principal,
		Role:                 t.Role,
	}
}

func statusToProto(p keeper.Status) *tokenkeeperv1.ProfileStatus {
	return &tokenkeeperv1.ProfileStatus{
		Profile:          p.Profile,
		Provider:         p.Provider,
		Url:              p.URL,
		State:            string(p.State),
		AccessExpiresAt:  timestamp(p.AccessExpiresAt),
		RefreshExpiresAt: timestamp(p.RefreshExpiresAt),
		Fingerprint:      p.Fingerprint,
		LastError:        p.LastError,
		RetryAt:          timestamp(p.RetryAt),
		LastUsed:         timestamp(p.LastUsed),
		FailedAttempts:   int32(min(p.FailedAttempts, math.MaxInt32)),
		NextAttemptAt:    timestamp(p.NextAttemptAt),
		Principal:        p.Principal,
		Role:             p.Role,
		Scopes:           strings.Fields(p.Scopes),
		Counts: &tokenkeeperv1.UpstreamCounts{
			Logins:          p.Counts.Logins,
			LoginFailures:   p.Counts.LoginFailures,
			Refreshes:       p.Counts.Refreshes,
			RefreshFailures: p.Counts.RefreshFailures,
			Revocations:     p.Counts.Revocations,
		},
	}
}

// timestamp maps the zero time to an absent field, so "never" survives the
// round trip instead of becoming 1970 or year 1.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
