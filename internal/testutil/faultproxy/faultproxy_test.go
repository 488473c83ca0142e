package faultproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// Each mode forwards first — the upstream sees the request — and then
// does what it says.
func TestModes(t *testing.T) {
	var seen atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"errorCode":"BAD_CREDENTIALS"}`)
	}))
	defer up.Close()
	p := New(up.URL, up.Client())
	defer p.Close()
	client := &http.Client{Timeout: 300 * time.Millisecond}
	tests := []struct {
		mode       Mode
		wantStatus int // 0: no answer
	}{
		{Pass, 401}, {Drop, 0}, {BadGateway, 502}, {Stall, 0},
	}
	for i, tt := range tests {
		p.Set("/v1/tokens", tt.mode, 2*time.Second)
		resp, err := client.Post(p.URL+"/v1/tokens", "application/json", nil)
		got := 0
		if err == nil {
			got = resp.StatusCode
			_ = resp.Body.Close()
		}
		if got != tt.wantStatus {
			t.Errorf("mode %d: status %d (%v), want %d", tt.mode, got, err, tt.wantStatus)
		}
		if seen.Load() != int64(i+1) {
			t.Errorf("mode %d: the upstream saw %d requests, want %d", tt.mode, seen.Load(), i+1)
		}
	}
	if p.Forwarded() != 3 {
		t.Errorf("Forwarded = %d, want 3", p.Forwarded())
	}
}

// Close may be called twice (a deferred Close and a t.Cleanup).
func TestCloseTwice(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	p := New(up.URL, up.Client())
	p.Close()
	p.Close()
}
