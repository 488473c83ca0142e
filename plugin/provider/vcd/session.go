package vcd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Cloud Director's session headers and paths.
const (
	headerAccessToken = "X-VMWARE-VCLOUD-ACCESS-TOKEN"
	headerTokenType   = "X-VMWARE-VCLOUD-TOKEN-TYPE"

	pathCloudSessions   = "/cloudapi/1.0.0/sessions"
	pathProviderSession = "/cloudapi/1.0.0/sessions/provider"
	pathCurrentSession  = "/cloudapi/1.0.0/sessions/current"
	pathLegacySessions  = "/api/sessions"
	pathLegacySession   = "/api/session"
)

func jsonAccept(version string) string { return "application/json;version=" + version }
func xmlAccept(version string) string  { return "application/*+xml;version=" + version }

// loginPassword logs in with user@org and password, on the CloudAPI
// session endpoints or, for old servers and legacy_login, /api/sessions.
func (p *Provider) loginPassword(ctx context.Context) (provider.Grant, error) {
	v, err := p.version(ctx)
	if err != nil {
		return provider.Grant{}, provider.NotSent(err) // the password was not sent
	}
	pw, err := p.cfg.Password.Resolve(ctx)
	if err != nil {
		return provider.Grant{}, provider.NotSent(fmt.Errorf("password: %w", err))
	}
	if p.cfg.LegacyLogin || !v.usesCloudAPI() {
		if compareVersions(v.Version, legacyRemoved) >= 0 {
			return provider.Grant{}, fmt.Errorf("API %s has no /api/sessions (removed in %s); drop legacy_login or pin api_version below %s: %w",
				v.Version, legacyRemoved, legacyRemoved, provider.ErrBadConfig)
		}
		return p.loginLegacy(ctx, v.Version, pw)
	}
	return p.loginCloudAPI(ctx, v.Version, pw)
}

// sessionBody is the part of the CloudAPI session JSON we use. The idle
// timeout is read as a number so that a fractional value (simulators with
// second-scale timeouts) is kept.
type sessionBody struct {
	ID                        string   `json:"id"`
	SessionIdleTimeoutMinutes *float64 `json:"sessionIdleTimeoutMinutes"`
}

// loginCloudAPI is POST /cloudapi/1.0.0/sessions[/provider] with Basic auth.
func (p *Provider) loginCloudAPI(ctx context.Context, version string, pw secret.Secret) (provider.Grant, error) {
	path := pathCloudSessions
	if p.isSystem() {
		path = pathProviderSession
	}
	req, err := p.base.NewRequest(ctx, http.MethodPost, path, nil)
	if err != nil {
		return provider.Grant{}, err
	}
	req.SetBasicAuth(p.principal(), pw.Reveal())
	req.Header.Set("Accept", jsonAccept(version))
	r, err := p.do(req, "login")
	if err != nil {
		return provider.Grant{}, err
	}
	if r.Status != http.StatusOK {
		return provider.Grant{}, p.upstreamError("login", req, r, loginKind(r.Status), p.basicSecrets(pw)...)
	}
	g, err := p.bearerGrant("login", req, r.Status, headerAccessToken+" header",
		r.Header.Get(headerAccessToken), r.Header.Get(headerTokenType), version)
	if err != nil {
		return provider.Grant{}, err
	}
	g.IdleTimeout = reportedIdle(r.Body) // the body is informative; the header is the token
	g = withIdentity(g, r.Body)
	p.log.Debug("logged in", "mode", modeCloud, "version", version, "provider_org", p.isSystem(),
		"token", g.Access.Fingerprint(), "idle_timeout", g.IdleTimeout, "lifetime", g.AccessLifetime)
	return g, nil
}

// bearerGrant builds the grant of a CloudAPI JWT session from the token
// and token type the server handed out (src names where the token was
// found). Both end up in an Authorization header and in `tokenkeeper get`
// output, so a hostile server must not smuggle CR, LF or spaces in: the
// token must be plausible (provider.PlausibleToken) and the type absent or
// Bearer. The error never quotes either value.
func (p *Provider) bearerGrant(op string, req *http.Request, status int, src, token, tokenType, version string) (provider.Grant, error) {
	if !provider.PlausibleToken(token) {
		return provider.Grant{}, protocolError(op, req, status, tokenProblem(src, token))
	}
	typ, ok := bearerType(tokenType)
	if !ok {
		return provider.Grant{}, protocolError(op, req, status, "the token type in the answer is not Bearer")
	}
	tok := secret.New(token)
	g := provider.Grant{Access: tok, TokenType: typ, HeaderName: provider.HeaderAuthorization,
		Meta: map[string]string{metaMode: modeCloud, metaVersion: version}}
	life, err := provider.JWTLifetime(tok.Reveal(), time.Now())
	switch {
	case errors.Is(err, provider.ErrJWTLifetime):
		return provider.Grant{}, protocolError(op, req, status, "the "+src+" in the answer is dead on arrival: its exp is not after its iat, or (without iat) not after its receipt")
	case err == nil:
		g.AccessLifetime = life
	}
	return g, nil
}

// bearerType normalises a JWT session's token type: absent or "bearer" in
// any case is "Bearer"; anything else is refused.
func bearerType(t string) (string, bool) {
	if t == "" || strings.EqualFold(t, "Bearer") {
		return "Bearer", true
	}
	return "", false
}

// tokenProblem says what is wrong with a token an answer carried, without
// quoting it.
func tokenProblem(src, token string) string {
	if token == "" {
		return "no " + src + " in the answer"
	}
	return "the " + src + " in the answer is not a well-formed token"
}

// protocolError is a malformed success answer.
func protocolError(op string, req *http.Request, status int, msg string) *provider.Error {
	return &provider.Error{Op: op, Method: req.Method, Path: req.URL.Path, Status: status,
		Message: msg, Kind: provider.ErrProtocol}
}

func minutes(m float64) time.Duration { return duration(m, time.Minute) }

// duration is v units, saturating: a server's 1e300 must not wrap to a
// negative lifetime (a float beyond int64 converts to the minimum).
func duration(v float64, unit time.Duration) time.Duration {
	switch d := math.Round(v * float64(unit)); {
	case d >= math.MaxInt64:
		return math.MaxInt64
	case d <= math.MinInt64:
		return math.MinInt64
	default:
		return time.Duration(d)
	}
}

// loginKind classifies a failed login: 401 is a rejected (or locked)
// credential, 403 a refusal of an authenticated or header-less request,
// 404 an endpoint this server does not have. A 400 is never a rejection
// (Cloud Director answers a bad password with 401), so it cannot arm the
// keeper's lockout guard; upstreamError makes Go's plain-HTTP-to-TLS 400
// bad configuration.
func loginKind(status int) error {
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return provider.ErrBadConfig
	}
	return statusKind(status)
}

// loginLegacy is POST /api/sessions; the token comes back in
// x-vcloud-authorization and must be sent back in that header.
func (p *Provider) loginLegacy(ctx context.Context, version string, pw secret.Secret) (provider.Grant, error) {
	req, err := p.base.NewRequest(ctx, http.MethodPost, pathLegacySessions, nil)
	if err != nil {
		return provider.Grant{}, err
	}
	req.SetBasicAuth(p.principal(), pw.Reveal())
	req.Header.Set("Accept", xmlAccept(version))
	r, err := p.do(req, "login")
	if err != nil {
		return provider.Grant{}, err
	}
	if r.Status != http.StatusOK {
		return provider.Grant{}, p.upstreamError("login", req, r, loginKind(r.Status), p.basicSecrets(pw)...)
	}
	tok := r.Header.Get(provider.HeaderVCloudAuth)
	if !provider.PlausibleToken(tok) { // it goes into a header as is
		return provider.Grant{}, protocolError("login", req, r.Status, tokenProblem(provider.HeaderVCloudAuth+" header", tok))
	}
	g := provider.Grant{Access: secret.New(tok), TokenType: "vcloud", HeaderName: provider.HeaderVCloudAuth,
		Meta: map[string]string{metaMode: modeLegacy, metaVersion: version}}
	g = withLegacyIdentity(g, r.Body)
	p.log.Debug("logged in", "mode", modeLegacy, "version", version, "token", g.Access.Fingerprint())
	return g, nil
}

// sessionRequest builds a request on g's own session: the CloudAPI
// current-session resource, or /api/session for legacy sessions.
func (p *Provider) sessionRequest(ctx context.Context, method string, g provider.Grant) (*http.Request, error) {
	version := g.Meta[metaVersion]
	if version == "" {
		v, err := p.version(ctx)
		if err != nil {
			return nil, err
		}
		version = v.Version
	}
	path, accept := pathCurrentSession, jsonAccept(version)
	if g.Meta[metaMode] == modeLegacy {
		path, accept = pathLegacySession, xmlAccept(version)
	}
	req, err := p.base.NewRequest(ctx, method, path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	setAuth(req, g)
	return req, nil
}

// Revoke logs the session out. A session the server no longer knows
// (401, 404) is already gone, which is success.
func (p *Provider) Revoke(ctx context.Context, g provider.Grant) error {
	if g.Access.IsZero() {
		return nil
	}
	req, err := p.sessionRequest(ctx, http.MethodDelete, g)
	if err != nil {
		return err
	}
	r, err := p.do(req, "revoke session")
	if err != nil {
		return err
	}
	if provider.LoggedOut(r.Status) {
		p.log.Debug("session ended", "token", g.Access.Fingerprint(), "status", r.Status)
		return nil
	}
	return p.upstreamError("revoke session", req, r, statusKind(r.Status), g.Access)
}

// Probe checks cheaply whether g's session still lives. A session that
// idled out or was logged out (401) wraps provider.ErrRefreshRejected so
// the keeper logs in again.
func (p *Provider) Probe(ctx context.Context, g provider.Grant) error {
	req, err := p.sessionRequest(ctx, http.MethodGet, g)
	if err != nil {
		return err
	}
	r, err := p.do(req, "probe session")
	if err != nil {
		return err
	}
	switch r.Status {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return p.upstreamError("probe session", req, r, provider.ErrRefreshRejected, g.Access)
	}
	return p.upstreamError("probe session", req, r, statusKind(r.Status), g.Access)
}

// SessionPaths are the path prefixes of Cloud Director's session
// lifecycle (log in, log out, token exchange): a call to them with any
// method but GET or HEAD starts or ends the session the keeper holds, so
// the auth proxy does not forward one. Reading the session (GET) is
// harmless and forwarded.
func SessionPaths() []string {
	return []string{pathCloudSessions, pathLegacySession, "/oauth/"}
}
