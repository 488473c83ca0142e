package vcf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Login creates a token pair with POST /v1/tokens. 400 and 401 (bad
// credentials, locked account) wrap provider.ErrCredentialsRejected.
func (p *Provider) Login(ctx context.Context) (provider.Grant, error) {
	c, err := p.credential(ctx)
	if err != nil {
		return provider.Grant{}, provider.NotSent(err)
	}
	res, err := p.do(ctx, opLogin, http.MethodPost, pathTokens, c.body)
	if err != nil {
		return provider.Grant{}, err
	}
	// The spec lists both 200 and 201.
	if res.status != http.StatusOK && res.status != http.StatusCreated {
		e := p.loginFailure(res, c.secrets)
		p.log.Debug("login failed", "status", res.status, "code", e.Code, "kind", e.Kind)
		return provider.Grant{}, e
	}
	access, refresh, err := parsePair(res.body)
	if err != nil {
		kind := provider.ErrProtocol
		if !bytes.HasPrefix(bytes.TrimSpace(res.body), []byte("{")) {
			// Not even JSON: something other than SDDC Manager answers
			// at url (a portal, a load balancer's landing page).
			kind, err = provider.ErrBadConfig, errString(p.notSDDCManager())
		}
		return provider.Grant{}, &provider.Error{Op: opLogin, Method: http.MethodPost, Path: pathTokens,
			Status: res.status, Message: err.Error(), Kind: kind}
	}
	g, err := p.grant(access, time.Now())
	if err != nil {
		return provider.Grant{}, &provider.Error{Op: opLogin, Method: http.MethodPost, Path: pathTokens,
			Status: res.status, Message: deadOnArrival, Kind: provider.ErrProtocol}
	}
	g.Refresh, g.RefreshLifetime = refresh, p.refreshLifetime
	p.log.Debug("logged in", "access", access.Fingerprint(),
		"refresh", refresh.Fingerprint(), "access_lifetime", g.AccessLifetime)
	return g, nil
}

// loginFailure classifies a failed login. Only a 400 or 401 that SDDC
// Manager itself sent — its JSON error body, or a bare 401 — means the
// credential was rejected (which arms the keeper's lockout guard). A 400
// or 401 with any other body came from something else at that address (a
// TLS port spoken to in plain HTTP, a proxy's HTML page) and is bad
// configuration; so are 404/405/415, the answers of a server without
// /v1/tokens.
func (p *Provider) loginFailure(res call, scrub []secret.Secret) *provider.Error {
	kind := kindFor(res.status, provider.ErrCredentialsRejected, http.StatusBadRequest, http.StatusUnauthorized)
	switch res.status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		kind = provider.ErrBadConfig
	case http.StatusBadRequest, http.StatusUnauthorized:
		if !isAPIError(res.body) && !(res.status == http.StatusUnauthorized && len(bytes.TrimSpace(res.body)) == 0) {
			e := &provider.Error{Op: opLogin, Method: http.MethodPost, Path: pathTokens, Status: res.status,
				Kind: provider.ErrBadConfig, Message: p.notSDDCManager()}
			if provider.PlainHTTPToTLS(res.body) {
				e.Message = provider.HTTPSHint(p.base.String())
			}
			return e
		}
	}
	e := fail(opLogin, http.MethodPost, pathTokens, res, kind, scrub...)
	e.RetryAfter = provider.RetryAfter(res.status, res.header, time.Now())
	withholdEchoes(e, res, scrub)
	return e
}

// withheld replaces the message of a login failure that quoted part of
// the credential that was sent.
const withheld = "the server's message was withheld: it quoted part of the credential that was sent"

// withholdEchoes drops the upstream text of a failed login when any part
// of four or more characters of a secret that was sent appears in it,
// ignoring case (see provider.EchoesPart); status and a clean code stay.
// The raw answer is checked too, since CleanMessage already redacted the
// whole-secret forms from what e holds.
func withholdEchoes(e *provider.Error, res call, scrub []secret.Secret) {
	var ae apiError
	_ = json.Unmarshal(res.body, &ae)
	if provider.EchoesPart(ae.ErrorCode, scrub...) {
		e.Code = ""
	}
	if e.Message != "" && provider.EchoesPart(ae.Message+" "+ae.RemediationMessage, scrub...) {
		e.Message = withheld
		if lockedCodes[strings.ToUpper(strings.TrimSpace(ae.ErrorCode))] {
			e.Message = "the account is locked; " + withheld
		}
	}
}

// notSDDCManager says that another server answers at the configured url.
func (p *Provider) notSDDCManager() string {
	return "the server at " + p.base.String() + " did not answer like SDDC Manager: check the url scheme and port"
}

// parsePair reads {"accessToken": …, "refreshToken": {"id": …}}; the
// refresh token may also be a bare string. Errors never quote the body.
func parsePair(body []byte) (access, refresh secret.Secret, err error) {
	var v struct {
		AccessToken  string          `json:"accessToken"`
		RefreshToken json.RawMessage `json:"refreshToken"`
	}
	if json.Unmarshal(body, &v) != nil || !plausibleToken(v.AccessToken) {
		return access, refresh, errString("the token pair has no access token")
	}
	var id string
	raw := bytes.TrimSpace(v.RefreshToken)
	switch {
	case len(raw) > 0 && raw[0] == '{':
		var obj struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &obj) == nil {
			id = obj.ID
		}
	case len(raw) > 0 && raw[0] == '"':
		_ = json.Unmarshal(raw, &id)
	}
	if !plausibleToken(id) {
		return access, refresh, errString("the token pair has no refresh token id")
	}
	return secret.New(v.AccessToken), secret.New(id), nil
}

// Refresh mints a new access token with PATCH
// /v1/tokens/access-token/refresh. The body is the raw, unquoted id — what
// working clients send; the spec's quoted form is accepted by servers too
// but the raw one is known to work everywhere. SDDC Manager does not
// rotate the refresh token, so the returned grant's Refresh is empty.
func (p *Provider) Refresh(ctx context.Context, g provider.Grant) (provider.Grant, error) {
	if g.Refresh.IsZero() {
		return provider.Grant{}, &provider.Error{Op: opRefresh, Message: "no refresh token", Kind: provider.ErrRefreshRejected}
	}
	res, err := p.do(ctx, opRefresh, http.MethodPatch, pathRefresh, []byte(g.Refresh.Reveal()))
	if err != nil {
		return provider.Grant{}, err
	}
	if res.status < 200 || res.status > 299 {
		kind := kindFor(res.status, provider.ErrRefreshRejected,
			http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound)
		e := fail(opRefresh, http.MethodPatch, pathRefresh, res, kind, g.Refresh)
		p.log.Debug("refresh rejected", "status", res.status, "code", e.Code, "refresh", g.Refresh.Fingerprint())
		return provider.Grant{}, e
	}
	access, ok := parseAccess(res.body)
	if !ok {
		return provider.Grant{}, &provider.Error{Op: opRefresh, Method: http.MethodPatch, Path: pathRefresh,
			Status: res.status, Message: "the answer holds no access token", Kind: provider.ErrProtocol}
	}
	out, err := p.grant(access, time.Now())
	if err != nil {
		return provider.Grant{}, &provider.Error{Op: opRefresh, Method: http.MethodPatch, Path: pathRefresh,
			Status: res.status, Message: deadOnArrival, Kind: provider.ErrProtocol}
	}
	p.log.Debug("refreshed", "refresh", g.Refresh.Fingerprint(), "access", access.Fingerprint(),
		"access_lifetime", out.AccessLifetime)
	return out, nil
}

// parseAccess reads the refresh answer leniently: servers send the raw
// JWT, the spec says a JSON string, and an object with accessToken costs
// nothing to accept.
func parseAccess(body []byte) (secret.Secret, bool) {
	v := strings.TrimSpace(string(body))
	switch {
	case strings.HasPrefix(v, `"`):
		var s string
		if json.Unmarshal([]byte(v), &s) != nil {
			return secret.Secret{}, false
		}
		v = strings.TrimSpace(s)
	case strings.HasPrefix(v, "{"):
		var obj struct {
			AccessToken string `json:"accessToken"`
		}
		if json.Unmarshal([]byte(v), &obj) != nil {
			return secret.Secret{}, false
		}
		v = obj.AccessToken
	}
	if !plausibleToken(v) {
		return secret.Secret{}, false
	}
	return secret.New(v), true
}

// Revoke invalidates the refresh token with DELETE
// /v1/tokens/refresh-token. 404 means it is already gone: success.
func (p *Provider) Revoke(ctx context.Context, g provider.Grant) error {
	if g.Refresh.IsZero() {
		return nil
	}
	res, err := p.do(ctx, opRevoke, http.MethodDelete, pathRevoke, []byte(g.Refresh.Reveal()))
	if err != nil {
		return err
	}
	switch {
	case res.status >= 200 && res.status <= 299:
		p.log.Debug("revoked", "refresh", g.Refresh.Fingerprint())
		return nil
	case res.status == http.StatusNotFound:
		p.log.Debug("refresh token already gone", "refresh", g.Refresh.Fingerprint())
		return nil
	}
	kind := kindFor(res.status, provider.ErrRefreshRejected, http.StatusBadRequest, http.StatusUnauthorized)
	return fail(opRevoke, http.MethodDelete, pathRevoke, res, kind, g.Refresh)
}

// deadOnArrival describes an access token whose claims leave it no life.
const deadOnArrival = "the access token in the answer is dead on arrival: its exp is not after its iat, or (without iat) not after its receipt"

// grant wraps an access token received now; its lifetime comes from the
// JWT, else (no JWT, no exp) the documented 60 minutes. A JWT whose claims
// leave it no life is refused: it would be handed out dead.
func (p *Provider) grant(access secret.Secret, now time.Time) (provider.Grant, error) {
	life, err := provider.JWTLifetime(access.Reveal(), now)
	switch {
	case errors.Is(err, provider.ErrJWTLifetime):
		return provider.Grant{}, err
	case err != nil:
		p.log.Debug("access token is not a JWT with exp; assuming the documented lifetime",
			"access", access.Fingerprint(), "lifetime", DefaultAccessLifetime)
		life = DefaultAccessLifetime
	}
	return withIdentity(provider.Grant{Access: access, TokenType: "Bearer", HeaderName: provider.HeaderAuthorization,
		AccessLifetime: life}), nil
}

// plausibleToken accepts RFC 6750 b64token characters only (see
// provider.PlausibleToken, shared with the Cloud Director provider).
func plausibleToken(v string) bool { return provider.PlausibleToken(v) }

// errString is a constant error message.
type errString string

func (e errString) Error() string { return string(e) }
