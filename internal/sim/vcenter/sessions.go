package vcenter

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
)

// Session header and cookie.
const (
	headerSession        = "vmware-api-session-id"
	headerUseHeaderAuthn = "vmware-use-header-authn"
)

// session is one logged-in session, named by its id.
type session struct {
	id   string
	user string
	role string
	sim.Session
}

func (b *Backend) aliveLocked(s *session, now time.Time) bool {
	return s.Alive(now, b.opts.IdleTimeout, b.opts.AbsoluteTimeout)
}

// pruneLocked forgets sessions that idled out or reached the cap.
func (b *Backend) pruneLocked() {
	now := b.clock.Now()
	for id, s := range b.sessions {
		if !b.aliveLocked(s, now) {
			delete(b.sessions, id)
		}
	}
}

// newID is a session id as vCenter's look: 32 hex digits.
func newID() string {
	buf := make([]byte, 16)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// sessionOf returns the caller's live session and slides its idle
// timeout, or nil. The id comes from the header or, as browsers and
// older clients send it, the cookie of that name.
func (b *Backend) sessionOf(r *http.Request) *session {
	id := r.Header.Get(headerSession)
	if id == "" {
		if c, err := r.Cookie(headerSession); err == nil {
			id = c.Value
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	s := b.sessions[id]
	if s == nil || !b.aliveLocked(s, now) {
		delete(b.sessions, id)
		return nil
	}
	s.LastUsed = now
	return s
}

// unauthenticated answers a request without a live session: the /api
// error body, or at /rest an empty 401 (what vcsim and older vCenter
// send for unknown, expired or deleted ids).
func unauthenticated(w http.ResponseWriter, api bool) {
	if !api {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	writeError(w, true, http.StatusUnauthorized, "UNAUTHENTICATED",
		"com.vmware.vapi.endpoint.method.authentication.required", "Authentication required.")
}

// login checks the Basic credentials and creates a session, or answers
// the failure itself (401 for none, a bad password or a locked account;
// the details are never disclosed) and returns nil.
func (b *Backend) login(w http.ResponseWriter, r *http.Request, api bool) *session {
	name, pw, ok := r.BasicAuth()
	if !ok {
		unauthenticated(w, api)
		return nil
	}
	key := strings.ToLower(name)
	u := b.findUser(name)
	if b.lockout.Locked(key) || u == nil || u.Password != pw {
		b.lockout.Fail(key) // a no-op while locked: the lock is not extended
		b.mu.Lock()
		b.stats.LoginFailures++
		b.mu.Unlock()
		// Both generations answer a failed login with the error body,
		// never saying whether the name, the password or a lock failed.
		writeError(w, api, http.StatusUnauthorized, "UNAUTHENTICATED",
			"com.vmware.vapi.endpoint.method.authentication.required", "Authentication required.")
		return nil
	}
	b.lockout.Succeed(key)
	now := b.clock.Now()
	s := &session{id: newID(), user: u.Name, role: u.Role, Session: sim.Session{Created: now, LastUsed: now}}
	b.mu.Lock()
	b.sessions[s.id] = s
	b.stats.Logins++
	b.mu.Unlock()
	return s
}

// apiLogin is POST /api/session: 201 and the id as a JSON string.
func (b *Backend) apiLogin(w http.ResponseWriter, r *http.Request) {
	if s := b.login(w, r, true); s != nil {
		writeJSON(w, http.StatusCreated, s.id)
	}
}

// legacyPost is POST /rest/com/vmware/cis/session: a login, or with
// ?~action=get the session info.
func (b *Backend) legacyPost(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("~action") == "get" {
		b.sessionInfo(false)(w, r)
		return
	}
	s := b.login(w, r, false)
	if s == nil {
		return
	}
	if !strings.EqualFold(r.Header.Get(headerUseHeaderAuthn), "true") {
		http.SetCookie(w, &http.Cookie{Name: headerSession, Value: s.id, Path: "/rest", HttpOnly: true, Secure: r.TLS != nil})
	}
	writeJSON(w, http.StatusOK, map[string]string{"value": s.id})
}

// sessionInfo is GET /api/session, GET or POST ?~action=get
// /rest/com/vmware/cis/session.
func (b *Backend) sessionInfo(api bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := b.sessionOf(r)
		if s == nil {
			unauthenticated(w, api)
			return
		}
		b.mu.Lock()
		info := map[string]string{"user": s.user, "created_time": stamp(s.Created), "last_accessed_time": stamp(s.LastUsed)}
		b.mu.Unlock()
		writeValue(w, api, info)
	}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// logout is DELETE on either session path: 204 at /api, 200 at /rest.
func (b *Backend) logout(api bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := b.sessionOf(r)
		if s == nil {
			unauthenticated(w, api)
			return
		}
		b.mu.Lock()
		delete(b.sessions, s.id)
		b.stats.Revocations++
		b.mu.Unlock()
		if api {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// vmSummary is one entry of GET /api/vcenter/vm.
type vmSummary struct {
	VM         string `json:"vm"`
	Name       string `json:"name"`
	PowerState string `json:"power_state"`
	CPUCount   int    `json:"cpu_count"`
	MemoryMiB  int    `json:"memory_size_MiB"`
}

// inventory is the simulated vCenter's small, fixed VM list.
var inventory = []vmSummary{
	{VM: "vm-1001", Name: "build-agent-01", PowerState: "POWERED_ON", CPUCount: 4, MemoryMiB: 8192},
	{VM: "vm-1002", Name: "template-ubuntu-24.04", PowerState: "POWERED_OFF", CPUCount: 2, MemoryMiB: 4096},
}

// listVMs is the protected resource, GET /api/vcenter/vm or
// GET /rest/vcenter/vm, counted in the stats with its 401s.
func (b *Backend) listVMs(api bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := b.sessionOf(r)
		b.mu.Lock()
		b.stats.APICalls++
		if s == nil {
			b.stats.Unauthorized++
		}
		b.mu.Unlock()
		switch {
		case s == nil:
			unauthenticated(w, api)
		case s.role == RoleNoAccess:
			writeError(w, api, http.StatusForbidden, "UNAUTHORIZED",
				"vapi.method.authz.rejected", "Permission to perform this operation was denied.")
		default:
			writeValue(w, api, inventory)
		}
	}
}

// writeValue answers 200 with v: as it is at /api, wrapped in
// {"value": v} at /rest.
func writeValue(w http.ResponseWriter, api bool, v any) {
	if !api {
		v = map[string]any{"value": v}
	}
	writeJSON(w, http.StatusOK, v)
}

// writeError answers the vSphere Automation error shape: at /api
// {"error_type", "messages": [{"id", "default_message", "args"}]}, at
// /rest the same wrapped as {"type": "com.vmware.vapi.std.errors.…",
// "value": {"messages": …}}.
func writeError(w http.ResponseWriter, api bool, status int, errorType, id, msg string) {
	messages := []map[string]any{{"id": id, "default_message": msg, "args": []string{}}}
	if api {
		writeJSON(w, status, map[string]any{"error_type": errorType, "messages": messages})
		return
	}
	writeJSON(w, status, map[string]any{
		"type":  "com.vmware.vapi.std.errors." + strings.ToLower(errorType),
		"value": map[string]any{"messages": messages},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
