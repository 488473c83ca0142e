package vcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// tokenAnswer is the OAuth token endpoint's JSON.
type tokenAnswer struct {
	AccessToken  string  `json:"access_token"`
	TokenType    string  `json:"token_type"`
	ExpiresIn    float64 `json:"expires_in"`
	RefreshToken string  `json:"refresh_token"`
}

// oauthPath is the token endpoint of the profile's org.
func (p *Provider) oauthPath() string {
	if p.isSystem() {
		return "/oauth/provider/token"
	}
	return "/oauth/tenant/" + url.PathEscape(p.cfg.Org) + "/token"
}

// loginAPIToken exchanges a user API token for a session. The API token is
// not rotated, so the grant has no Refresh: the keeper exchanges again
// when the access token ends.
func (p *Provider) loginAPIToken(ctx context.Context) (provider.Grant, error) {
	tok, err := p.cfg.APIToken.Resolve(ctx)
	if err != nil {
		return provider.Grant{}, provider.NotSent(fmt.Errorf("api_token: %w", err))
	}
	g, _, err := p.exchange(ctx, tok)
	return g, err
}

// discard logs out a session that will not be handed out.
func (p *Provider) discard(ctx context.Context, g provider.Grant) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.Revoke(ctx, g); err != nil {
		p.log.Debug("could not end the unused session", "error", err)
	}
}

// exchange posts a refresh_token grant to the org's OAuth endpoint and
// returns the session grant and the (possibly rotated) refresh token.
func (p *Provider) exchange(ctx context.Context, tok secret.Secret) (provider.Grant, secret.Secret, error) {
	v, err := p.version(ctx)
	if err != nil {
		return provider.Grant{}, secret.Secret{}, provider.NotSent(err) // the token was not sent
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.Reveal()}}.Encode()
	req, err := p.base.NewRequest(ctx, http.MethodPost, p.oauthPath(), strings.NewReader(form))
	if err != nil {
		return provider.Grant{}, secret.Secret{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	r, err := p.do(req, "exchange token")
	if err != nil {
		return provider.Grant{}, secret.Secret{}, err
	}
	if r.Status != http.StatusOK {
		// The form body carries the token URL-encoded; a server echoing
		// the request may quote any of these.
		perr := p.upstreamError("exchange token", req, r, loginKind(r.Status), tok, secret.New(form))
		if r.Status == http.StatusBadRequest && isGrantRejection(perr.Code) {
			perr.Kind = provider.ErrCredentialsRejected
		}
		return provider.Grant{}, secret.Secret{}, perr
	}
	var ans tokenAnswer
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		return provider.Grant{}, secret.Secret{}, protocolError("exchange token", req, r.Status, "the answer is not a token response")
	}
	g, err := p.bearerGrant("exchange token", req, r.Status, "access_token", ans.AccessToken, ans.TokenType, v.Version)
	if err != nil {
		return provider.Grant{}, secret.Secret{}, err
	}
	if ans.ExpiresIn > 0 {
		g.AccessLifetime = duration(ans.ExpiresIn, time.Second)
	}
	p.log.Debug("exchanged token", "version", v.Version, "credential", tok.Fingerprint(),
		"token", g.Access.Fingerprint(), "lifetime", g.AccessLifetime)
	return g, secret.New(ans.RefreshToken), nil
}

// isGrantRejection reports whether an OAuth error code means the token
// itself was refused.
func isGrantRejection(code string) bool {
	switch code {
	case "invalid_grant", "invalid_client", "unauthorized_client", "access_denied":
		return true
	}
	return false
}
