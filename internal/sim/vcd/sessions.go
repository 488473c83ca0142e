package vcd

import (
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
)

// Session headers.
const (
	headerAccessToken = "X-VMWARE-VCLOUD-ACCESS-TOKEN"
	headerTokenType   = "X-VMWARE-VCLOUD-TOKEN-TYPE"
	headerVCloudAuth  = "x-vcloud-authorization"
)

// session is one logged-in session. It is named by its JWT and, for
// legacy logins, also by its 32-hex x-vcloud-authorization token.
type session struct {
	id     string
	user   *User
	jwt    string
	legacy string
	sim.Session
}

func (b *Backend) aliveLocked(s *session, now time.Time) bool {
	return s.Alive(now, b.opts.IdleTimeout, b.opts.AbsoluteTimeout)
}

// pruneLocked forgets sessions that idled out or reached the cap.
func (b *Backend) pruneLocked() {
	now := b.clock.Now()
	for tok, s := range b.sessions {
		if !b.aliveLocked(s, now) {
			delete(b.sessions, tok)
		}
	}
}

// liveLocked returns each session once.
func (b *Backend) liveLocked() map[*session]bool {
	set := map[*session]bool{}
	for _, s := range b.sessions {
		set[s] = true
	}
	return set
}

// newSessionLocked creates a session for u; its JWT expires at the
// absolute cap.
func (b *Backend) newSessionLocked(u *User, legacy bool) *session {
	now := b.clock.Now()
	s := &session{id: uuid.NewString(), user: u, Session: sim.Session{Created: now, LastUsed: now}}
	claims := jwt.MapClaims{
		"iss": u.Org + "@" + orgID(u.Org), "sub": u.Name, "jti": s.id,
		"iat": now.Unix(), "exp": now.Add(b.opts.AbsoluteTimeout).Unix(),
		"typ": "Bearer", "org": u.Org,
	}
	s.jwt, _ = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(b.key)
	b.sessions[s.jwt] = s
	if legacy {
		s.legacy = randomHex(16)
		b.sessions[s.legacy] = s
	}
	b.stats.Logins++
	return s
}

// endLocked forgets every token of s.
func (b *Backend) endLocked(s *session) {
	delete(b.sessions, s.jwt)
	if s.legacy != "" {
		delete(b.sessions, s.legacy)
	}
}

// authenticate finds the caller's live session and slides its idle
// timeout. No token header at all is 403 (the vCloud API guide's
// wording); an unknown, expired or idled-out token is 401.
func (b *Backend) authenticate(w http.ResponseWriter, r *http.Request, asJSON bool) (*session, int) {
	tok := r.Header.Get(headerVCloudAuth)
	if bearer, ok := bearerToken(r.Header.Get("Authorization")); ok {
		tok = bearer
	}
	if tok == "" {
		b.writeError(w, asJSON, http.StatusForbidden, "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
			"Missing authentication header: send Authorization: Bearer or x-vcloud-authorization")
		return nil, http.StatusForbidden
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	s := b.sessions[tok]
	if s == nil || !b.aliveLocked(s, now) {
		if s != nil {
			b.endLocked(s)
		}
		b.writeError(w, asJSON, http.StatusUnauthorized, "UNAUTHORIZED", "The session is expired or invalid; log in again")
		return nil, http.StatusUnauthorized
	}
	s.LastUsed = now
	return s, 0
}

// bearerToken returns the credentials of an "Authorization: Bearer …"
// header. The scheme is matched ignoring case (RFC 7235 §2.1; VMware's
// go-vcloud-director sends "bearer") and may be followed by several spaces.
func bearerToken(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// checkPassword authenticates the Basic credentials of a login. It
// answers the failure itself (403 without the header, 401 for a bad or
// locked account) and returns nil then.
func (b *Backend) checkPassword(w http.ResponseWriter, r *http.Request, asJSON bool) *User {
	principal, pw, ok := r.BasicAuth()
	if !ok {
		b.writeError(w, asJSON, http.StatusForbidden, "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
			"Missing authentication header: send Authorization: Basic base64(user@org:password)")
		return nil
	}
	key := strings.ToLower(principal)
	if b.lockout.Locked(key) {
		b.countLoginFailure()
		b.writeError(w, asJSON, http.StatusUnauthorized, "ACCOUNT_LOCKED", "The user account is locked; try again later")
		return nil
	}
	b.mu.Lock()
	u := b.findUser(principal)
	b.mu.Unlock()
	if u == nil || u.Password == "" || u.Password != pw {
		b.lockout.Fail(key)
		b.countLoginFailure()
		b.writeError(w, asJSON, http.StatusUnauthorized, "UNAUTHORIZED", "Invalid credentials")
		return nil
	}
	b.lockout.Succeed(key)
	return u
}

func (b *Backend) countLoginFailure() {
	b.mu.Lock()
	b.stats.LoginFailures++
	b.mu.Unlock()
}

// cloudLogin is POST /cloudapi/1.0.0/sessions (tenants) or
// /cloudapi/1.0.0/sessions/provider (System). The wrong endpoint for the
// user's org is refused with 401, as a failed authentication, without
// counting towards the lockout (the password was right).
func (b *Backend) cloudLogin(providerPath bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !b.versions.hasCloudAPI() {
			b.notFound(w, r)
			return
		}
		if _, ok := b.checkVersion(w, r, true); !ok {
			return
		}
		u := b.checkPassword(w, r, true)
		if u == nil {
			return
		}
		if u.IsProvider() != providerPath {
			b.countLoginFailure()
			msg := "Provider users must log in at /cloudapi/1.0.0/sessions/provider"
			if providerPath {
				msg = "Only System org users may log in at /cloudapi/1.0.0/sessions/provider"
			}
			b.writeError(w, true, http.StatusUnauthorized, "UNAUTHORIZED", msg)
			return
		}
		b.mu.Lock()
		s := b.newSessionLocked(u, false)
		body := b.sessionJSON(s, r)
		b.mu.Unlock()
		w.Header().Set(headerAccessToken, s.jwt)
		w.Header().Set(headerTokenType, "Bearer")
		writeJSON(w, http.StatusOK, body)
	}
}

// legacyLogin is POST /api/sessions (removed in API 38.0).
func (b *Backend) legacyLogin(w http.ResponseWriter, r *http.Request) {
	if !b.versions.hasLegacy() {
		b.notFound(w, r)
		return
	}
	v, ok := b.checkVersion(w, r, false)
	if !ok {
		return
	}
	u := b.checkPassword(w, r, false)
	if u == nil {
		return
	}
	if u.IsProvider() && b.opts.BlockProviderLegacyLogin {
		b.countLoginFailure()
		b.writeError(w, false, http.StatusUnauthorized, "UNAUTHORIZED", "Provider login on /api/sessions is disabled")
		return
	}
	b.mu.Lock()
	s := b.newSessionLocked(u, true)
	b.mu.Unlock()
	w.Header().Set(headerVCloudAuth, s.legacy)
	if num(v) >= legacyJWTSince {
		w.Header().Set(headerAccessToken, s.jwt)
		w.Header().Set(headerTokenType, "Bearer")
	}
	writeXML(w, http.StatusOK, "application/vnd.vmware.vcloud.session+xml;version="+v, sessionXML(s, r))
}

// currentSession is GET /cloudapi/1.0.0/sessions/current.
func (b *Backend) currentSession(w http.ResponseWriter, r *http.Request) {
	s, ok := b.protected(w, r, true)
	if !ok {
		return
	}
	b.mu.Lock()
	body := b.sessionJSON(s, r)
	b.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// legacySession is GET /api/session.
func (b *Backend) legacySession(w http.ResponseWriter, r *http.Request) {
	if !b.versions.hasLegacy() {
		b.notFound(w, r)
		return
	}
	s, ok := b.protected(w, r, false)
	if !ok {
		return
	}
	writeXML(w, http.StatusOK, "application/vnd.vmware.vcloud.session+xml;version="+acceptVersion(r), sessionXML(s, r))
}

// logout is DELETE /cloudapi/1.0.0/sessions/current or DELETE /api/session.
func (b *Backend) logout(cloud bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if (cloud && !b.versions.hasCloudAPI()) || (!cloud && !b.versions.hasLegacy()) {
			b.notFound(w, r)
			return
		}
		if _, ok := b.checkVersion(w, r, cloud); !ok {
			return
		}
		s, status := b.authenticate(w, r, cloud)
		if status != 0 {
			return
		}
		b.mu.Lock()
		b.endLocked(s)
		b.stats.Revocations++
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

// protected checks version and session of a request to a protected
// resource, counting it (and its 401) in the stats.
func (b *Backend) protected(w http.ResponseWriter, r *http.Request, asJSON bool) (*session, bool) {
	if asJSON && !b.versions.hasCloudAPI() {
		b.notFound(w, r)
		return nil, false
	}
	b.mu.Lock()
	b.stats.APICalls++
	b.mu.Unlock()
	if _, ok := b.checkVersion(w, r, asJSON); !ok {
		return nil, false
	}
	s, status := b.authenticate(w, r, asJSON)
	if status == http.StatusUnauthorized {
		b.mu.Lock()
		b.stats.Unauthorized++
		b.mu.Unlock()
	}
	return s, status == 0
}
