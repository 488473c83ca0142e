package host

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// TokenSource adapts a profile to oauth2.TokenSource, for libraries that
// take one. Each Token call asks the TokenService (which caches), with ctx
// bounding the call. oauth2 sends "Authorization: <type> <token>", so only
// profiles whose header is Authorization work; a legacy Cloud Director
// profile (x-vcloud-authorization) yields an error — use Transport there.
// oauth2 cannot report a 401 back; Transport can, and is preferred.
func TokenSource(ctx context.Context, c TokenGetter, profile string, minValidity time.Duration) oauth2.TokenSource {
	return TokenSourceWith(ctx, c, profile, TokenOptions{MinValidity: minValidity})
}

// TokenSourceWith is TokenSource with every TokenOptions field, e.g.
// AllowShorter; ForceRefresh would refresh upstream on every Token call
// and is ignored.
func TokenSourceWith(ctx context.Context, c TokenGetter, profile string, o TokenOptions) oauth2.TokenSource {
	o.ForceRefresh = false
	return &tokenSource{ctx: ctx, c: c, profile: profile, opts: o}
}

type tokenSource struct {
	// ctx is stored because oauth2.TokenSource.Token takes none; it is
	// the caller's choice of lifetime for every call through this source.
	ctx     context.Context
	c       TokenGetter
	profile string
	opts    TokenOptions
}

func (s *tokenSource) Token() (*oauth2.Token, error) {
	tok, err := s.c.Token(s.ctx, s.profile, s.opts)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(tok.HeaderName, "Authorization") {
		return nil, fmt.Errorf("profile %q: its token goes in the %s header, which oauth2 cannot send; use host.Transport", s.profile, tok.HeaderName)
	}
	return &oauth2.Token{
		AccessToken: tok.Access.Reveal(),
		TokenType:   tok.TokenType,
		Expiry:      tok.ExpiresAt,
	}, nil
}
