package provider

import (
	"errors"
	"testing"
)

// The session providers' shared classification of a failed answer and
// of a logout's answer.
func TestFailureKindAndLoggedOut(t *testing.T) {
	tests := []struct {
		status    int
		kind      error
		loggedOut bool
	}{
		{200, ErrProtocol, true},
		{204, ErrProtocol, true},
		{302, ErrBadConfig, false},
		{400, ErrProtocol, false},
		{401, ErrCredentialsRejected, true},
		{403, ErrForbidden, false},
		{404, ErrProtocol, true},
		{406, ErrProtocol, false},
		{429, ErrUnavailable, false},
		{503, ErrUnavailable, false},
	}
	for _, tt := range tests {
		if got := FailureKind(tt.status); !errors.Is(got, tt.kind) {
			t.Errorf("FailureKind(%d) = %v, want %v", tt.status, got, tt.kind)
		}
		if got := LoggedOut(tt.status); got != tt.loggedOut {
			t.Errorf("LoggedOut(%d) = %v, want %v", tt.status, got, tt.loggedOut)
		}
	}
}
