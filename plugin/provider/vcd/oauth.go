package vcd

import (
	"context"
	"encoding/json"
	"errors"
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

// serviceAccountToken is the token the next exchange must use: a rotated
// one that could not be stored yet, else what the secret source holds.
func (p *Provider) serviceAccountToken(ctx context.Context) (secret.Secret, error) {
	p.mu.Lock()
	pending := p.pendingSA
	p.mu.Unlock()
	if !pending.IsZero() {
		return pending, nil
	}
	tok, err := p.cfg.ServiceAccount.Resolve(ctx)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("service_account: %w", err)
	}
	return tok, nil
}

// ErrNotStored marks a login whose rotated service-account token could not
// be written back. The server has already invalidated the previous token,
// so the new one is kept in memory and stored before any later exchange;
// no access token is handed out until it is safely on disk. It is
// retryable (the keeper backs off): a full disk or a remounted volume can
// recover, and a later Login stores the pending token without calling the
// server.
var ErrNotStored = errors.New("rotated service-account token not stored")

// loginServiceAccount exchanges the service-account token. The server
// rotates it: the new one is stored before the grant is returned, because
// a grant handed out while the only valid token lives in memory would
// lock the automation out at the next crash.
func (p *Provider) loginServiceAccount(ctx context.Context) (provider.Grant, error) {
	if c, ok := p.cfg.ServiceAccount.(writableChecker); ok {
		// Checked before the exchange: the server rotates the token on
		// use, so a token that cannot be stored back must not be spent.
		if err := c.CheckWritable(); err != nil {
			return provider.Grant{}, fmt.Errorf("service_account: the token cannot be written back, so it is not exchanged: %w (%w)",
				err, provider.ErrBadConfig)
		}
	}
	if err := p.storePending(ctx); err != nil {
		return provider.Grant{}, err
	}
	tok, err := p.serviceAccountToken(ctx)
	if err != nil {
		return provider.Grant{}, err
	}
	g, next, err := p.exchange(ctx, tok)
	if err != nil {
		return provider.Grant{}, err
	}
	if next.IsZero() || next.Equal(tok) {
		return g, nil
	}
	if !provider.PlausibleToken(next.Reveal()) {
		// Written as is it would corrupt the secret file (a trailing
		// newline is trimmed on read) and be sent back mangled.
		p.log.Error("the rotated service-account token in the answer is malformed; it is not stored",
			"old_token", tok.Fingerprint())
		p.discard(ctx, g)
		return provider.Grant{}, &provider.Error{Op: "exchange token", Method: http.MethodPost, Path: p.oauthPath(),
			Status: http.StatusOK, Kind: provider.ErrProtocol,
			Message: "the refresh_token in the answer is not a well-formed token; the service-account token was not stored"}
	}
	if err := p.cfg.ServiceAccount.Store(ctx, next); err != nil {
		p.mu.Lock()
		p.pendingSA = next
		p.mu.Unlock()
		p.log.Error("could not store the rotated service-account token; keeping it in memory and retrying before the next exchange",
			"new_token", next.Fingerprint(), "error", err)
		p.discard(ctx, g)
		return provider.Grant{}, fmt.Errorf("%w: %w (%w)", ErrNotStored, err, provider.ErrUnavailable)
	}
	p.log.Debug("service-account token rotated and stored", "old", tok.Fingerprint(), "new", next.Fingerprint())
	return g, nil
}

// writableChecker is implemented by secret.Ref: it reports whether Store
// can work (a file reference in a writable directory).
type writableChecker interface{ CheckWritable() error }

// storePending writes back a rotated token left over from a failed store.
func (p *Provider) storePending(ctx context.Context) error {
	p.mu.Lock()
	pending := p.pendingSA
	p.mu.Unlock()
	if pending.IsZero() {
		return nil
	}
	if err := p.cfg.ServiceAccount.Store(ctx, pending); err != nil {
		return fmt.Errorf("%w: %w (%w)", ErrNotStored, err, provider.ErrUnavailable)
	}
	p.mu.Lock()
	if p.pendingSA.Equal(pending) {
		p.pendingSA = secret.Secret{}
	}
	p.mu.Unlock()
	p.log.Info("stored the pending service-account token", "token", pending.Fingerprint())
	return nil
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
	req, err := p.newRequest(ctx, http.MethodPost, p.oauthPath(), strings.NewReader(form))
	if err != nil {
		return provider.Grant{}, secret.Secret{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	r, err := p.do(req, "exchange token")
	if err != nil {
		return provider.Grant{}, secret.Secret{}, err
	}
	if r.status != http.StatusOK {
		// The form body carries the token URL-encoded; a server echoing
		// the request may quote any of these.
		perr := p.upstreamError("exchange token", req, r, loginKind(r.status), tok, secret.New(form))
		if r.status == http.StatusBadRequest && isGrantRejection(perr.Code) {
			perr.Kind = provider.ErrCredentialsRejected
		}
		return provider.Grant{}, secret.Secret{}, perr
	}
	var ans tokenAnswer
	if err := json.Unmarshal(r.body, &ans); err != nil {
		return provider.Grant{}, secret.Secret{}, protocolError("exchange token", req, r.status, "the answer is not a token response")
	}
	g, err := p.bearerGrant("exchange token", req, r.status, "access_token", ans.AccessToken, ans.TokenType, v.Version)
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
