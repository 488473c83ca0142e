package exec

import (
	"context"
	"testing"
	"time"
)

func TestRoundWait(t *testing.T) {
	tests := []struct{ in, want time.Duration }{
		{4999871234 * time.Nanosecond, 5 * time.Second},
		{3049 * time.Millisecond, 3 * time.Second},
		{201400 * time.Microsecond, 201 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := roundWait(tt.in); got != tt.want {
			t.Errorf("roundWait(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestNoAnswer(t *testing.T) {
	if got, want := NoAnswer("sddc", 4999871234*time.Nanosecond, context.DeadlineExceeded), `profile "sddc": no answer from tokenkeeper within 5s`; got != want {
		t.Errorf("= %q, want %q", got, want)
	}
	if got, want := NoAnswer("", 3*time.Millisecond, context.Canceled), "canceled after 3ms, before tokenkeeper answered"; got != want {
		t.Errorf("= %q, want %q", got, want)
	}
}
