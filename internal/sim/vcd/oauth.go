package vcd

import (
	"net/http"
	"strings"
)

// oauthToken is POST /oauth/tenant/{org}/token or /oauth/provider/token:
// a refresh_token grant with an API token or a service-account token, no
// Authorization header. A service account's token is rotated: the answer
// carries a new refresh_token and the old one stops working.
func (b *Backend) oauthToken(providerPath bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !b.versions.hasOAuth() {
			b.notFound(w, r)
			return
		}
		org := r.PathValue("org")
		if providerPath {
			org = "System"
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
			b.oauthError(w, "unsupported_grant_type", "grant_type must be refresh_token")
			return
		}
		tok := r.PostForm.Get("refresh_token")
		b.mu.Lock()
		defer b.mu.Unlock()
		g, ok := b.grants[tok]
		if tok == "" || !ok || !strings.EqualFold(g.owner.Org, org) {
			b.stats.LoginFailures++
			b.oauthError(w, "invalid_grant", "The refresh token is invalid, revoked or belongs to another organization")
			return
		}
		s := b.newSessionLocked(g.owner, false)
		ans := map[string]any{
			"access_token": s.jwt, "token_type": "Bearer",
			"expires_in": int64(b.opts.AbsoluteTimeout.Seconds()), "refresh_token": nil,
		}
		if g.rotates {
			next := "sa-" + randomHex(24)
			delete(b.grants, tok)
			b.grants[next] = g
			ans["refresh_token"] = next
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, ans)
	}
}

// oauthError answers 400 with the OAuth error shape.
func (b *Backend) oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}
