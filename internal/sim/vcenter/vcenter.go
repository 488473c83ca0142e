// Package vcenter simulates the session surface of the vSphere Automation
// API (vCenter) as ../../shared/VMWARE-APIS.md §3 describes it: Basic
// logins at POST /api/session (201, a JSON string) and at the older POST
// /rest/com/vmware/cis/session (200, {"value": id}, a cookie unless
// vmware-use-header-authn is true), the vmware-api-session-id header,
// session info, logout, a sliding idle timeout with an absolute cap, the
// {error_type, messages} error shape, the SSO lockout, and a protected
// inventory (GET /api/vcenter/vm, GET /rest/vcenter/vm). Wrap it with
// sim.NewHandler for the /_sim/ endpoints.
package vcenter

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
)

// DefaultAPIVersion is the vSphere release simulated by default.
const DefaultAPIVersion = "8.0.3"

// apiSessionSince is the first release with POST /api/session (7.0 U2).
var apiSessionSince = []int{7, 0, 2}

// Roles are the vCenter roles a simulated user may hold: Administrator
// and ReadOnly may read the inventory, NoAccess gets 403.
var Roles = []string{RoleAdministrator, RoleReadOnly, RoleNoAccess}

// The roles of Roles.
const (
	RoleAdministrator = "Administrator"
	RoleReadOnly      = "ReadOnly"
	RoleNoAccess      = "NoAccess"
)

// User is one SSO account; Role "" is Administrator.
type User struct{ Name, Password, Role string }

// Options configure the simulator. Zero values take vCenter's defaults.
type Options struct {
	// Clock drives idle and absolute timeouts and the lockout; nil is
	// the wall clock.
	Clock sim.Clock
	// Users may log in. SSO compares names ignoring case.
	Users []User
	// APIVersion is the simulated vSphere release, e.g. "8.0.3" or
	// "6.7"; before 7.0.2 there is no /api/session (404, as vcsim).
	APIVersion string
	// LegacyREST serves only the /rest generation whatever APIVersion
	// says, as vcsim does.
	LegacyREST bool
	// IdleTimeout ends a session after this long without a request;
	// default 30 min. Every authenticated request extends it.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login whatever its
	// use; default 24 h.
	AbsoluteTimeout time.Duration
	// Lockout is the failed-login policy; nil is sim.NewLockout(Clock).
	Lockout *sim.Lockout
}

// Backend is the simulated vCenter. It implements sim.Backend.
type Backend struct {
	opts    Options
	clock   sim.Clock
	lockout *sim.Lockout
	hasAPI  bool
	mux     *http.ServeMux

	// mu guards sessions and stats.
	mu       sync.Mutex
	sessions map[string]*session
	stats    sim.Stats
}

// New returns a simulator.
func New(o Options) (*Backend, error) {
	if o.Clock == nil {
		o.Clock = sim.SystemClock{}
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = 24 * time.Hour
	}
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	v, err := parseVersion(o.APIVersion)
	if err != nil {
		return nil, err
	}
	if o.Lockout == nil {
		o.Lockout = sim.NewLockout(o.Clock)
	}
	b := &Backend{opts: o, clock: o.Clock, lockout: o.Lockout, sessions: map[string]*session{},
		hasAPI: !o.LegacyREST && !older(v, apiSessionSince)}
	b.routes()
	return b, nil
}

// parseVersion reads a release like "8.0.3" or "6.7".
func parseVersion(s string) ([]int, error) {
	var v []int
	for _, part := range strings.Split(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || len(v) == 3 {
			return nil, fmt.Errorf("api version %q is not a vSphere release like 8.0.3 or 6.7", s)
		}
		v = append(v, n)
	}
	return v, nil
}

// older reports whether release v comes before since.
func older(v, since []int) bool {
	for i, want := range since {
		got := 0
		if i < len(v) {
			got = v[i]
		}
		if got != want {
			return got < want
		}
	}
	return false
}

// routes registers the vCenter endpoints of the release.
func (b *Backend) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /rest/com/vmware/cis/session", b.legacyPost)
	m.HandleFunc("GET /rest/com/vmware/cis/session", b.sessionInfo(false))
	m.HandleFunc("DELETE /rest/com/vmware/cis/session", b.logout(false))
	m.HandleFunc("GET /rest/vcenter/vm", b.listVMs(false))
	if b.hasAPI {
		m.HandleFunc("POST /api/session", b.apiLogin)
		m.HandleFunc("GET /api/session", b.sessionInfo(true))
		m.HandleFunc("DELETE /api/session", b.logout(true))
		m.HandleFunc("GET /api/vcenter/vm", b.listVMs(true))
	}
	m.HandleFunc("/", b.notFound)
	b.mux = m
}

// ServeHTTP implements http.Handler.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

func (b *Backend) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, strings.HasPrefix(r.URL.Path, "/api"), http.StatusNotFound, "NOT_FOUND",
		"com.vmware.vapi.rest.httpNotFound", "Not found.")
}

// Stats implements sim.Backend; ActiveSessions counts live sessions now.
func (b *Backend) Stats() sim.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pruneLocked()
	st := b.stats
	st.ActiveSessions = int64(len(b.sessions))
	return st
}

// Reset implements sim.Backend: forgets sessions, lockouts and counters.
func (b *Backend) Reset() {
	b.lockout.Reset()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions = map[string]*session{}
	b.stats = sim.Stats{}
}

// Expire implements sim.Backend: "sessions", "access" and "all" end every
// session; vCenter has no refresh tokens.
func (b *Backend) Expire(what string) error {
	if err := sim.CheckSessionExpiry(what, "vcenter"); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions = map[string]*session{}
	return nil
}

// findUser looks a user name up ignoring case, as SSO does.
func (b *Backend) findUser(name string) *User {
	for i := range b.opts.Users {
		if strings.EqualFold(b.opts.Users[i].Name, name) {
			return &b.opts.Users[i]
		}
	}
	return nil
}
