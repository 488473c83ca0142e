package vcf

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// apiError is SDDC Manager's error body; every field is optional.
type apiError struct {
	ErrorCode          string `json:"errorCode"`
	ErrorType          string `json:"errorType,omitempty"`
	Message            string `json:"message"`
	RemediationMessage string `json:"remediationMessage,omitempty"`
	ReferenceToken     string `json:"referenceToken,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg, remedy string) {
	writeJSON(w, status, apiError{ErrorCode: code, ErrorType: "ERROR", Message: msg,
		RemediationMessage: remedy, ReferenceToken: referenceToken()})
}

func writeUnsupportedMedia(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
		"Content type '"+r.Header.Get("Content-Type")+"' not supported", "Send Content-Type: application/json")
}

func writeRefreshNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "REFRESH_TOKEN_NOT_FOUND", "Refresh token not found or expired", "Create a new token pair")
}

// writeUnauthorized is exactly what SDDC Manager's API gateway answers
// for a missing, malformed, expired or revoked bearer.
func writeUnauthorized(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]string{
		"errorCode": "Unauthorized",
		"message":   "Authorization Header is missing or not in correct format",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// referenceToken is the short id SDDC Manager puts in errors for its logs.
func referenceToken() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// authorize checks the bearer and returns its scopes, answering 401
// itself. Every protected call counts in APICalls, every 401 in
// Unauthorized.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	s.count(func() { s.stats.APICalls++ })
	scope, ok := s.verify(r.Header.Get("Authorization"))
	if !ok {
		s.count(func() { s.stats.Unauthorized++ })
		writeUnauthorized(w)
		return nil, false
	}
	return scope, true
}

type claims struct {
	Scope []string `json:"scope"`
	jwt.RegisteredClaims
}

func (s *Server) verify(header string) ([]string, bool) {
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, false
	}
	s.mu.Lock()
	key := s.key
	s.mu.Unlock()
	var c claims
	_, err := jwt.ParseWithClaims(strings.TrimSpace(raw), &c, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.clock.Now),
		jwt.WithIssuer("vcf-auth"), jwt.WithAudience("sddc-services"), jwt.WithExpirationRequired())
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.access[c.ID]
	if !ok || !s.clock.Now().Before(a.expires) {
		return nil, false
	}
	return c.Scope, true
}

func (s *Server) getDomains(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"elements": []map[string]any{{
			"id": "4d6c8a9e-1b7a-4c3e-9f51-2a0b6c1d0e11", "name": "sddc-mgmt-domain",
			"status": "ACTIVE", "type": "MANAGEMENT",
		}},
		"pageMetadata": map[string]int{"pageNumber": 0, "pageSize": 1, "totalElements": 1, "totalPages": 1},
	})
}

func (s *Server) createDomain(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.authorize(w, r)
	if !ok {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	if !slices.Contains(scope, "OTHER_WRITE") {
		writeError(w, http.StatusForbidden, "FORBIDDEN", "Access is denied: the role of the user does not allow this operation",
			"Use an account with the OPERATOR or ADMIN role")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{
		"id": uuid.NewString(), "name": "Creating workload domain", "status": "IN_PROGRESS",
		"type": "DOMAIN_CREATION",
	})
}
