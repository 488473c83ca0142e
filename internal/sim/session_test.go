package sim

import (
	"strings"
	"testing"
	"time"
)

// TestSessionAlive: a session ends at its idle timeout after the last
// use or at its absolute cap after login, whichever comes first.
func TestSessionAlive(t *testing.T) {
	login := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const idle, absolute = 30 * time.Minute, 2 * time.Hour
	for _, tt := range []struct {
		name          string
		lastUsed, now time.Duration // after login
		alive         bool
	}{
		{"fresh", 0, time.Minute, true},
		{"idle just under", 0, idle - time.Second, true},
		{"idled out", 0, idle, false},
		{"used recently, under the cap", 100 * time.Minute, 110 * time.Minute, true},
		{"used recently, at the cap", 110 * time.Minute, absolute, false},
	} {
		s := Session{Created: login, LastUsed: login.Add(tt.lastUsed)}
		if got := s.Alive(login.Add(tt.now), idle, absolute); got != tt.alive {
			t.Errorf("%s: Alive = %v, want %v", tt.name, got, tt.alive)
		}
	}
}

func TestCheckSessionExpiry(t *testing.T) {
	for _, what := range []string{"sessions", "access", "all"} {
		if err := CheckSessionExpiry(what, "vcenter"); err != nil {
			t.Errorf("CheckSessionExpiry(%q) = %v", what, err)
		}
	}
	if err := CheckSessionExpiry("refresh", "vcenter"); err == nil || !strings.Contains(err.Error(), "vcenter knows sessions") {
		t.Errorf("CheckSessionExpiry(refresh) = %v: want an error naming the product", err)
	}
}
