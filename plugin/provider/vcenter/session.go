package vcenter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// vCenter's session header and paths.
const (
	// headerUseHeaderAuthn asks a /rest login not to set a session
	// cookie: the id travels in provider.HeaderVMwareSession only.
	headerUseHeaderAuthn = "vmware-use-header-authn"

	pathAPISession    = "/api/session"
	pathLegacySession = "/rest/com/vmware/cis/session"
)

// Login creates a session with the user's password: POST /api/session,
// or POST /rest/com/vmware/cis/session once the server answered 404 at
// /api/session (remembered for this profile).
func (p *Provider) Login(ctx context.Context) (provider.Grant, error) {
	pw, err := p.cfg.Password.Resolve(ctx)
	if err != nil {
		return provider.Grant{}, provider.NotSent(unreadable(ctx, err))
	}
	if !p.usesLegacy() {
		g, err := p.login(ctx, modeAPI, pw)
		if !isNotFound(err) {
			return g, err
		}
		// vSphere before 7.0 U2, and vcsim: the route does not exist, so
		// nothing was authenticated and no failure was counted.
		p.log.Debug("no /api/session on this server: using /rest/com/vmware/cis/session from now on")
		p.rememberLegacy()
	}
	return p.login(ctx, modeLegacy, pw)
}

// isNotFound reports whether err is a 404 (or 405) answer to a login.
func isNotFound(err error) bool {
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Status == http.StatusNotFound || pe.Status == http.StatusMethodNotAllowed
}

// login is one Basic login at the endpoint of mode.
func (p *Provider) login(ctx context.Context, mode string, pw secret.Secret) (provider.Grant, error) {
	path := pathAPISession
	if mode == modeLegacy {
		path = pathLegacySession
	}
	req, err := p.newRequest(ctx, http.MethodPost, path, nil)
	if err != nil {
		return provider.Grant{}, provider.NotSent(err)
	}
	req.SetBasicAuth(p.cfg.Username, pw.Reveal())
	r, err := p.do(req, "login")
	if err != nil {
		return provider.Grant{}, err
	}
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		basic := secret.New(p.cfg.Username + ":" + pw.Reveal())
		return provider.Grant{}, p.upstreamError("login", req, r, loginKind(r.Status), pw, basic)
	}
	id, ok := sessionID(r.Body, mode)
	if !ok {
		return provider.Grant{}, &provider.Error{Op: "login", Method: req.Method, Path: req.URL.Path, Status: r.Status,
			Message: "the answer holds no well-formed session id", Kind: provider.ErrProtocol}
	}
	g := provider.Grant{Access: secret.New(id), TokenType: TokenType, HeaderName: provider.HeaderVMwareSession,
		IdleTimeout: p.idleTimeout(), Meta: map[string]string{metaMode: mode}}
	p.log.Debug("logged in", "mode", mode, "token", g.Access.Fingerprint(), "idle_timeout", g.IdleTimeout)
	return p.withUser(ctx, g), nil
}

// sessionID reads the id of a login answer: a JSON string at /api, the
// {"value": id} wrapper at /rest. It goes into a header as it is, so it
// must be a plausible token (no CR, LF or spaces).
func sessionID(body []byte, mode string) (string, bool) {
	var id string
	if mode == modeLegacy {
		var v struct {
			Value string `json:"value"`
		}
		if json.Unmarshal(body, &v) != nil {
			return "", false
		}
		id = v.Value
	} else if json.Unmarshal(body, &id) != nil {
		return "", false
	}
	return id, provider.PlausibleToken(id)
}

// loginKind classifies a failed login: 401 is a rejected (or locked)
// credential; 404 an endpoint this server lacks, a configuration problem
// once the fallback is spent; a 400 is not classed as a rejection
// (vCenter answers a bad password with 401), but it reached the server,
// so as an unknown outcome it still counts against the lockout guard.
func loginKind(status int) error {
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return provider.ErrBadConfig
	}
	return provider.FailureKind(status)
}

// sessionRequest builds a request on g's own session at its endpoint.
func (p *Provider) sessionRequest(ctx context.Context, method string, g provider.Grant) (*http.Request, error) {
	path := pathAPISession
	if g.Meta[metaMode] == modeLegacy {
		path = pathLegacySession
	}
	req, err := p.newRequest(ctx, method, path, nil)
	if err != nil {
		return nil, err
	}
	if method == http.MethodPost {
		// The /rest generation reads the session with POST ?~action=get.
		req.URL.RawQuery = "~action=get"
	}
	req.Header.Set(provider.HeaderVMwareSession, g.Access.Reveal())
	return req, nil
}

// Probe checks cheaply whether g's session still lives, and so extends
// it: GET /api/session, or POST /rest/com/vmware/cis/session?~action=get.
// A session that idled out or was logged out (401) wraps
// provider.ErrRefreshRejected, and the keeper logs in again.
func (p *Provider) Probe(ctx context.Context, g provider.Grant) error {
	req, r, err := p.readSession(ctx, g, "probe session")
	if err != nil {
		return err
	}
	switch r.Status {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return p.upstreamError("probe session", req, r, provider.ErrRefreshRejected, g.Access)
	}
	return p.upstreamError("probe session", req, r, provider.FailureKind(r.Status), g.Access)
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
	return p.upstreamError("revoke session", req, r, provider.FailureKind(r.Status), g.Access)
}

// readSession reads g's session info: GET /api/session, or POST
// /rest/com/vmware/cis/session?~action=get. Reading it extends the session.
func (p *Provider) readSession(ctx context.Context, g provider.Grant, op string) (*http.Request, *provider.Response, error) {
	method := http.MethodGet
	if g.Meta[metaMode] == modeLegacy {
		method = http.MethodPost
	}
	req, err := p.sessionRequest(ctx, method, g)
	if err != nil {
		return nil, nil, err
	}
	r, err := p.do(req, op)
	return req, r, err
}

// SessionPaths are the path prefixes of the vSphere Automation API's
// session lifecycle (log in, log out): a call to them with any method
// but GET or HEAD starts or ends the session the keeper holds, so the
// auth proxy does not forward one.
func SessionPaths() []string { return []string{pathAPISession, pathLegacySession} }
