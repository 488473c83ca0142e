package vcf

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	APIKey   string `json:"apiKey"`
}

// principal is who a login or refresh token speaks for.
type principal struct {
	user string
	role Role
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r) {
		writeUnsupportedMedia(w, r)
		return
	}
	var req loginRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		s.count(func() { s.stats.LoginFailures++ })
		writeError(w, http.StatusBadRequest, "INVALID_INPUT", "The request body is not valid JSON", "Send {\"username\",\"password\"} or {\"apiKey\"}")
		return
	}
	p, ok := s.authenticate(w, req)
	if !ok {
		s.count(func() { s.stats.LoginFailures++ })
		return
	}
	access, refreshID, err := s.issue(p, true)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "Could not create the token", "")
		return
	}
	var rt any = map[string]string{"id": refreshID}
	if s.opts.RefreshTokenAsString {
		rt = refreshID
	}
	writeJSON(w, s.opts.LoginStatus, map[string]any{"accessToken": access, "refreshToken": rt})
}

// authenticate checks a login request, answering the failure itself.
func (s *Server) authenticate(w http.ResponseWriter, req loginRequest) (principal, bool) {
	if req.Username == "" && req.APIKey != "" {
		name, ok := s.opts.APIKeys[req.APIKey]
		if !ok {
			writeError(w, s.opts.BadCredentialsStatus, "BAD_CREDENTIALS", "Invalid API key", "Provide a valid API key")
			return principal{}, false
		}
		role := RoleAdmin
		if u, ok := s.opts.Users[name]; ok {
			role = u.Role
		}
		return principal{user: name, role: role}, true
	}
	if req.Username == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "INVALID_INPUT", "Username and password are required", "Provide a username and a password, or an API key")
		return principal{}, false
	}
	u, known := s.opts.Users[req.Username]
	if known && s.lockout.Locked(req.Username) {
		writeError(w, s.opts.LockedStatus, "USER_ACCOUNT_LOCKED", "The user account is locked",
			"Wait until the lockout period ends or ask an administrator to unlock the account")
		return principal{}, false
	}
	if !known || u.Password != req.Password {
		if known {
			s.lockout.Fail(req.Username)
		}
		writeError(w, s.opts.BadCredentialsStatus, "BAD_CREDENTIALS", "Invalid username or password", "Provide valid credentials")
		return principal{}, false
	}
	s.lockout.Succeed(req.Username)
	return principal{user: req.Username, role: u.Role}, true
}

// issue mints an access token and, on login, a refresh token.
func (s *Server) issue(p principal, login bool) (access, refreshID string, err error) {
	now := s.clock.Now()
	jti := uuid.NewString()
	exp := now.Add(s.opts.AccessTTL)
	claims := jwt.MapClaims{
		"jti": jti, "iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
		"sub": p.user, "iss": "vcf-auth", "aud": "sddc-services",
		"user": p.user, "name": p.user, "scope": scopes[p.role],
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	access, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		return "", "", err
	}
	s.pruneLocked(now)
	s.access[jti] = &accessToken{expires: exp}
	if login {
		refreshID = uuid.NewString()
		s.refresh[refreshID] = &refreshToken{user: p.user, role: p.role, expires: now.Add(s.opts.RefreshTTL)}
		s.stats.Logins++
	} else {
		s.stats.Refreshes++
	}
	return access, refreshID, nil
}

// pruneLocked drops expired entries so long runs stay small.
func (s *Server) pruneLocked(now time.Time) {
	for id, a := range s.access {
		if !now.Before(a.expires) {
			delete(s.access, id)
		}
	}
	for id, rt := range s.refresh {
		if !now.Before(rt.expires) {
			delete(s.refresh, id)
		}
	}
}

func (s *Server) refreshAccess(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r) {
		writeUnsupportedMedia(w, r)
		return
	}
	p, ok := s.lookupRefresh(readRefreshID(r))
	if !ok {
		s.count(func() { s.stats.RefreshFailures++ })
		writeRefreshNotFound(w)
		return
	}
	access, _, err := s.issue(p, false)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "Could not refresh the token", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if s.opts.QuotedRefreshResponse {
		_ = json.NewEncoder(w).Encode(access)
		return
	}
	_, _ = io.WriteString(w, access)
}

func (s *Server) revokeRefresh(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r) {
		writeUnsupportedMedia(w, r)
		return
	}
	id := readRefreshID(r)
	s.mu.Lock()
	rt, ok := s.refresh[id]
	live := ok && s.clock.Now().Before(rt.expires)
	if ok {
		delete(s.refresh, id)
	}
	if live {
		s.stats.Revocations++
	}
	s.mu.Unlock()
	if !live {
		writeRefreshNotFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) lookupRefresh(id string) (principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[id]
	if !ok || !s.clock.Now().Before(rt.expires) {
		return principal{}, false
	}
	return principal{user: rt.user, role: rt.role}, true
}

// readRefreshID accepts both bodies seen on the wire: the raw id (what
// working clients send) and a JSON-quoted string (the spec and Go SDK).
func readRefreshID(r *http.Request) string {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	v := strings.TrimSpace(string(b))
	if strings.HasPrefix(v, `"`) {
		var id string
		if json.Unmarshal([]byte(v), &id) == nil {
			return id
		}
	}
	return v
}

func (s *Server) count(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
