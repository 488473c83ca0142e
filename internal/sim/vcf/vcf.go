// Package vcf simulates the token API of VCF SDDC Manager as it behaves on
// the wire (see VMWARE-APIS.md §1): POST /v1/tokens, PATCH
// /v1/tokens/access-token/refresh, DELETE /v1/tokens/refresh-token, and a
// protected resource, /v1/domains, to spend the token on. It is a
// sim.Backend: wrap it with sim.NewHandler for httptest or sim.Run.
package vcf

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
)

// Role is an SDDC Manager role.
type Role string

// The roles SDDC Manager knows, strongest first.
const (
	RoleAdmin    Role = "ADMIN"
	RoleOperator Role = "OPERATOR"
	RoleViewer   Role = "VIEWER"
)

// Roles lists the known roles.
var Roles = []Role{RoleAdmin, RoleOperator, RoleViewer}

// scopes are the JWT scope claims per role: SDDC Manager puts
// permissions, not role names, into its tokens.
var scopes = map[Role][]string{
	RoleAdmin:    {"BACKUP_CONFIG_READ", "BACKUP_CONFIG_WRITE", "CREDENTIAL_READ", "CREDENTIAL_WRITE", "OTHER_READ", "OTHER_WRITE", "USER_READ", "USER_WRITE"},
	RoleOperator: {"BACKUP_CONFIG_READ", "OTHER_READ", "OTHER_WRITE"},
	RoleViewer:   {"OTHER_READ"},
}

// Scopes returns the scope claim the simulator puts into the tokens of a
// role (nil for an unknown role).
func Scopes(r Role) []string { return slices.Clone(scopes[r]) }

// User is one account: its password and role ("" means ADMIN).
type User struct {
	Password string
	Role     Role
}

// Options configure a Server. Zero values pick SDDC Manager's defaults.
type Options struct {
	// Clock drives every lifetime and the lockout; nil is the wall clock.
	Clock sim.Clock
	// Users by name.
	Users map[string]User
	// APIKeys maps a service user's API key to its user name; the role is
	// the one of Users[name], or ADMIN when the name is not a user.
	APIKeys map[string]string
	// AccessTTL is the JWT lifetime (exp − iat); default 60m.
	AccessTTL time.Duration
	// RefreshTTL is the refresh-token lifetime from issue; default 24h.
	RefreshTTL time.Duration
	// LoginStatus answers a successful POST /v1/tokens: 201 (default) or
	// 200 — the spec lists both.
	LoginStatus int
	// BadCredentialsStatus answers a wrong password: 400 (default, as in
	// the 9.x spec) or 401 (5.2.0 spec).
	BadCredentialsStatus int
	// LockedStatus answers a login to a locked account; default 400.
	LockedStatus int
	// QuotedRefreshResponse answers a refresh with a JSON string (the
	// spec's form) instead of the raw JWT (what servers send).
	QuotedRefreshResponse bool
	// RefreshTokenAsString answers a login with "refreshToken":"<id>"
	// instead of {"id":"<id>"} (a variant seen in the wild).
	RefreshTokenAsString bool
	// LockoutExempt users never lock (SSO exempts
	// administrator@vsphere.local).
	LockoutExempt []string
}

// Server is the simulated SDDC Manager.
type Server struct {
	opts    Options
	clock   sim.Clock
	lockout *sim.Lockout

	mu      sync.Mutex // guards key, refresh, access, stats
	key     []byte     // HS256 signing key, per instance (new on Reset)
	refresh map[string]*refreshToken
	access  map[string]*accessToken // by jti: the validity table
	stats   sim.Stats
}

type refreshToken struct {
	user    string
	role    Role
	expires time.Time
}

type accessToken struct {
	expires time.Time
}

// New returns a Server; it fails on an unknown role.
func New(o Options) (*Server, error) {
	if o.Clock == nil {
		o.Clock = sim.SystemClock{}
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = 60 * time.Minute
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 24 * time.Hour
	}
	o.LoginStatus = orDefault(o.LoginStatus, http.StatusCreated)
	o.BadCredentialsStatus = orDefault(o.BadCredentialsStatus, http.StatusBadRequest)
	o.LockedStatus = orDefault(o.LockedStatus, http.StatusBadRequest)
	users := make(map[string]User, len(o.Users))
	for name, u := range o.Users {
		if u.Role == "" {
			u.Role = RoleAdmin
		}
		if _, ok := scopes[u.Role]; !ok {
			return nil, fmt.Errorf("user %q: unknown role %q (want ADMIN, OPERATOR or VIEWER)", name, u.Role)
		}
		users[name] = u
	}
	o.Users = users
	s := &Server{opts: o, clock: o.Clock, lockout: sim.NewLockout(o.Clock)}
	s.lockout.Exempt = map[string]bool{}
	for _, u := range o.LockoutExempt {
		s.lockout.Exempt[u] = true
	}
	s.Reset()
	return s, nil
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// ServeHTTP routes the SDDC Manager endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	type route struct{ method, path string }
	switch (route{r.Method, r.URL.Path}) {
	case route{http.MethodPost, "/v1/tokens"}:
		s.createToken(w, r)
	case route{http.MethodPatch, "/v1/tokens/access-token/refresh"}:
		s.refreshAccess(w, r)
	case route{http.MethodDelete, "/v1/tokens/refresh-token"}:
		s.revokeRefresh(w, r)
	case route{http.MethodGet, "/v1/domains"}:
		s.getDomains(w, r)
	case route{http.MethodPost, "/v1/domains"}:
		s.createDomain(w, r)
	default:
		switch r.URL.Path {
		case "/v1/tokens", "/v1/tokens/access-token/refresh", "/v1/tokens/refresh-token", "/v1/domains":
			writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Request method '"+r.Method+"' is not supported", "")
		default:
			writeError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource was not found", "")
		}
	}
}

// Stats returns the counters; ActiveSessions is the number of live
// refresh tokens.
func (s *Server) Stats() sim.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	now := s.clock.Now()
	for _, rt := range s.refresh {
		if now.Before(rt.expires) {
			st.ActiveSessions++
		}
	}
	return st
}

// Reset forgets every token, lockout and counter and draws a new signing
// key.
func (s *Server) Reset() {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s.mu.Lock()
	s.key = key
	s.refresh = map[string]*refreshToken{}
	s.access = map[string]*accessToken{}
	s.stats = sim.Stats{}
	s.mu.Unlock()
	s.lockout.Reset()
}

// Expire ends live tokens at once: "access" revokes every access token
// (the next API call gets 401), "refresh" and "sessions" every refresh
// token (the next refresh gets 404), "all" both.
func (s *Server) Expire(what string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch what {
	case "access":
		s.access = map[string]*accessToken{}
	case "refresh", "sessions":
		s.refresh = map[string]*refreshToken{}
	case "all":
		s.access = map[string]*accessToken{}
		s.refresh = map[string]*refreshToken{}
	default:
		return fmt.Errorf("unknown expire target %q (want access, refresh, sessions or all)", what)
	}
	return nil
}

// Lockout exposes the lockout policy (to inspect or tune in tests).
func (s *Server) Lockout() *sim.Lockout { return s.lockout }
