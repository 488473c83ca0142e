// Package vcd simulates VMware Cloud Director's authentication surface as
// ../../shared/VMWARE-APIS.md §2 describes it: version discovery, CloudAPI
// and legacy session logins, API-token and rotating service-account
// exchanges, sliding idle timeout with an absolute cap, logout, 406 for
// unsupported versions, XML and JSON error bodies, lockout, and two
// protected resources. Wrap it with sim.NewHandler for /_sim/ endpoints.
package vcd

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
)

// User is one account: Name@Org with a password and a role name.
type User struct {
	Name, Org, Password, Role string
}

// Principal is the user@org login name.
func (u User) Principal() string { return u.Name + "@" + u.Org }

// IsProvider reports whether the user belongs to the System org.
func (u User) IsProvider() bool { return strings.EqualFold(u.Org, "System") }

// Grant is an API token or service-account token and its owner (user@org).
type Grant struct {
	Token, Owner string
}

// Options configure the simulator. Zero values take Cloud Director's
// defaults.
type Options struct {
	// Clock drives session idle and absolute timeouts and the lockout;
	// nil is the wall clock.
	Clock sim.Clock
	// Users may log in with a password.
	Users []User
	// APITokens are user API tokens (never rotated).
	APITokens []Grant
	// ServiceAccounts are service-account refresh tokens (rotated on
	// every exchange: the old one stops working).
	ServiceAccounts []Grant
	// APIVersions are the supported API versions; empty means the versions
	// of DefaultProduct. The release's features follow the highest one:
	// below 33.0 no CloudAPI, from 38.0 no /api/sessions.
	APIVersions []string
	// IdleTimeout ends a session after this long without a request;
	// default 30 min. Every authenticated request extends it.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login whatever its
	// use; default 24 h. It is the JWT's exp.
	AbsoluteTimeout time.Duration
	// BlockProviderLegacyLogin refuses System users on /api/sessions with
	// 401, as the server setting of that name does.
	BlockProviderLegacyLogin bool
	// Lockout is the failed-login policy; nil is sim.NewLockout(Clock).
	Lockout *sim.Lockout
}

// Backend is the simulated Cloud Director. It implements sim.Backend.
type Backend struct {
	opts     Options
	clock    sim.Clock
	lockout  *sim.Lockout
	versions versionSet
	key      []byte // HS256 signing key of session JWTs
	mux      *http.ServeMux

	// mu guards everything below.
	mu       sync.Mutex
	sessions map[string]*session // by every token that names it
	grants   map[string]grant    // API and service-account tokens
	stats    sim.Stats
}

// grant is a live OAuth refresh token.
type grant struct {
	owner   *User
	rotates bool
}

// New returns a simulator. A token owner that is not among Users is added
// without a password (it can then only log in with its tokens).
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
	if len(o.APIVersions) == 0 {
		o.APIVersions, _ = ProductVersions(DefaultProduct)
	}
	if o.Lockout == nil {
		o.Lockout = sim.NewLockout(o.Clock)
	}
	o.Users = withOwners(o.Users, append(slices.Clone(o.APITokens), o.ServiceAccounts...))
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("could not make a signing key: %w", err)
	}
	b := &Backend{opts: o, clock: o.Clock, lockout: o.Lockout, versions: newVersionSet(o.APIVersions), key: key}
	if err := b.resetLocked(); err != nil {
		return nil, err
	}
	b.routes()
	return b, nil
}

// routes registers the Cloud Director endpoints.
func (b *Backend) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/versions", b.serveVersions)
	m.HandleFunc("POST /cloudapi/1.0.0/sessions", b.cloudLogin(false))
	m.HandleFunc("POST /cloudapi/1.0.0/sessions/provider", b.cloudLogin(true))
	m.HandleFunc("GET /cloudapi/1.0.0/sessions/current", b.currentSession)
	m.HandleFunc("DELETE /cloudapi/1.0.0/sessions/current", b.logout(true))
	m.HandleFunc("GET /cloudapi/1.0.0/orgs", b.cloudOrgs)
	m.HandleFunc("POST /api/sessions", b.legacyLogin)
	m.HandleFunc("GET /api/session", b.legacySession)
	m.HandleFunc("DELETE /api/session", b.logout(false))
	m.HandleFunc("GET /api/org", b.apiOrgs)
	m.HandleFunc("POST /api/vdc/{vdc}/action/composeVApp", b.composeVApp)
	m.HandleFunc("POST /oauth/tenant/{org}/token", b.oauthToken(false))
	m.HandleFunc("POST /oauth/provider/token", b.oauthToken(true))
	m.HandleFunc("/", b.notFound)
	b.mux = m
}

// ServeHTTP implements http.Handler.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

func (b *Backend) notFound(w http.ResponseWriter, r *http.Request) {
	b.writeError(w, strings.HasPrefix(r.URL.Path, "/cloudapi/"), http.StatusNotFound, "RESOURCE_NOT_FOUND",
		"No resource found for "+r.Method+" "+r.URL.Path)
}

// Stats implements sim.Backend; ActiveSessions counts live sessions now.
func (b *Backend) Stats() sim.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pruneLocked()
	st := b.stats
	st.ActiveSessions = int64(len(b.liveLocked()))
	return st
}

// Reset implements sim.Backend: forgets sessions, rotations, lockouts and
// counters.
func (b *Backend) Reset() {
	b.lockout.Reset()
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.resetLocked() // validated by New
}

func (b *Backend) resetLocked() error {
	b.sessions = map[string]*session{}
	b.grants = map[string]grant{}
	b.stats = sim.Stats{}
	for _, set := range []struct {
		gs      []Grant
		rotates bool
	}{{b.opts.APITokens, false}, {b.opts.ServiceAccounts, true}} {
		for _, g := range set.gs {
			u := b.findUser(g.Owner)
			if u == nil {
				return fmt.Errorf("token owner %q is not user@org", g.Owner)
			}
			b.grants[g.Token] = grant{owner: u, rotates: set.rotates}
		}
	}
	return nil
}

// Expire implements sim.Backend: "sessions", "access" and "all" end every
// session; Cloud Director has no refresh tokens of its own to expire.
func (b *Backend) Expire(what string) error {
	if err := sim.CheckSessionExpiry(what, "cloud director"); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions = map[string]*session{}
	return nil
}

// findUser looks a principal up: the user name exactly, the org
// case-insensitively.
func (b *Backend) findUser(principal string) *User {
	at := strings.LastIndex(principal, "@")
	if at < 0 {
		return nil
	}
	name, org := principal[:at], principal[at+1:]
	for i := range b.opts.Users {
		u := &b.opts.Users[i]
		if u.Name == name && strings.EqualFold(u.Org, org) {
			return u
		}
	}
	return nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// ParseUser parses "user@org=PASSWORD[:ROLE]"; the role follows the last
// colon, so a password containing a colon needs an explicit role.
func ParseUser(s string) (User, error) {
	principal, rest, ok := strings.Cut(s, "=")
	at := strings.LastIndex(principal, "@")
	if !ok || at <= 0 || at == len(principal)-1 {
		return User{}, fmt.Errorf("user %q: want user@org=PASSWORD[:ROLE]", principalOnly(s))
	}
	u := User{Name: principal[:at], Org: principal[at+1:], Password: rest}
	if i := strings.LastIndex(rest, ":"); i >= 0 && i < len(rest)-1 {
		u.Password, u.Role = rest[:i], rest[i+1:]
	}
	if u.Role == "" {
		u.Role = "Organization Administrator"
		if u.IsProvider() {
			u.Role = "System Administrator"
		}
	}
	return u, nil
}

// withOwners adds a password-less user for every grant owner not listed.
func withOwners(users []User, grants []Grant) []User {
	users = slices.Clone(users)
	for _, g := range grants {
		u, err := ParseUser(g.Owner + "=")
		if err != nil {
			continue // resetLocked reports it
		}
		known := slices.ContainsFunc(users, func(x User) bool {
			return x.Name == u.Name && strings.EqualFold(x.Org, u.Org)
		})
		if !known {
			users = append(users, u)
		}
	}
	return users
}

// ParseGrant parses "TOKEN:user@org".
func ParseGrant(s string) (Grant, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || !strings.Contains(s[i+1:], "@") {
		return Grant{}, fmt.Errorf("token spec needs an owner: TOKEN:user@org")
	}
	return Grant{Token: s[:i], Owner: s[i+1:]}, nil
}

// principalOnly keeps what precedes "=" so an error never shows a password.
func principalOnly(s string) string {
	p, _, _ := strings.Cut(s, "=")
	return p
}

// Roles are Cloud Director's predefined role names, accepted after the
// last ':' of a --user.
var Roles = []string{
	"System Administrator", "Organization Administrator", "Catalog Author", "vApp Author",
	"vApp User", "Console Access Only", "Defer to Identity Provider",
}
