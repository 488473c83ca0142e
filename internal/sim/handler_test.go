package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSimEndpointMethods(t *testing.T) {
	b := &fakeBackend{}
	h := NewHandler(b)
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{"GET", "/_sim/reset", 405, "POST"},
		{"PUT", "/_sim/reset", 405, "POST"},
		{"GET", "/_sim/expire", 405, "POST"},
		{"DELETE", "/_sim/faults", 405, "GET, POST"},
		{"POST", "/_sim/stats", 405, "GET"},
		{"HEAD", "/_sim/stats", 405, "GET"},
		{"GET", "/_sim/stats", 200, ""},
		{"GET", "/_sim/faults", 200, ""},
		{"GET", "/_sim/nothing", 404, ""},
		{"POST", "/_sim/", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Fatalf("Allow %q, want %q", got, tc.allow)
			}
			if tc.want == 405 {
				var body struct{ Message string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Message == "" {
					t.Fatalf("405 body %q: %v", rec.Body.String(), err)
				}
			}
		})
	}
	if b.resets.Load() != 0 || len(b.expired) != 0 {
		t.Fatalf("a refused method reached the backend: resets=%d expired=%v", b.resets.Load(), b.expired)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_sim/reset", nil))
	if rec.Code != 204 || b.resets.Load() != 1 {
		t.Fatalf("POST /_sim/reset: %d, resets=%d", rec.Code, b.resets.Load())
	}
}
