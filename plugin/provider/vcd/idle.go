package vcd

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// reportedIdle reads sessionIdleTimeoutMinutes from a CloudAPI session
// body; zero when the body does not say.
func reportedIdle(body []byte) time.Duration {
	var s sessionBody
	if json.Unmarshal(body, &s) != nil || s.SessionIdleTimeoutMinutes == nil || *s.SessionIdleTimeoutMinutes <= 0 {
		return 0
	}
	return minutes(*s.SessionIdleTimeoutMinutes)
}

// settleIdle gives g the idle timeout, principal and roles of its session:
// what the login answer reported, else what GET
// /cloudapi/1.0.0/sessions/current reports for it (legacy logins and token
// exchanges carry no session body), and
// the profile's idle_timeout when that is shorter or nothing was
// reported. When neither says, g is marked IdleUnknown and the keeper
// assumes a conservative floor: a Cloud Director session always ends
// after some time without use.
func (p *Provider) settleIdle(ctx context.Context, g provider.Grant) provider.Grant {
	if g.IdleTimeout <= 0 || !hasIdentity(g) {
		body := p.currentSession(ctx, g)
		if g.IdleTimeout <= 0 {
			g.IdleTimeout = reportedIdle(body)
		}
		if !hasIdentity(g) {
			g = withIdentity(g, body)
		}
	}
	if set := p.cfg.IdleTimeout; set > 0 && (g.IdleTimeout <= 0 || set < g.IdleTimeout) {
		g.IdleTimeout = set
	}
	g.IdleUnknown = g.IdleTimeout <= 0
	p.log.Debug("session idle timeout", "token", g.Access.Fingerprint(), "idle_timeout", g.IdleTimeout,
		"unknown", g.IdleUnknown)
	return g
}

// currentSession asks the server for g's session body (its idle timeout,
// user, org and roles): nil when the server cannot say (a server without
// CloudAPI, an error). The session's own header authenticates,
// x-vcloud-authorization for a legacy session, which CloudAPI accepts too.
func (p *Provider) currentSession(ctx context.Context, g provider.Grant) []byte {
	req, err := p.base.NewRequest(ctx, http.MethodGet, pathCurrentSession, nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Accept", jsonAccept(g.Meta[metaVersion]))
	setAuth(req, g)
	r, err := p.do(req, "read session")
	if err != nil {
		p.log.Debug("could not read the session", "error", err)
		return nil
	}
	if r.Status != http.StatusOK {
		p.log.Debug("could not read the session", "status", r.Status)
		return nil
	}
	return r.Body
}
