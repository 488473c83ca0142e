package e2e

import (
	"fmt"
	"testing"
	"time"
)

// minValidity is what every token read of the fleet runs asks for: an
// answer must stay valid this long after the read was sent, so that the
// check against the simulator, however late under load, finds it alive.
const minValidity = 5 * time.Second

// answer is one token handed out to a reader, as the reader saw it.
type answer struct {
	Sent      time.Time // when the read (or the get) was started
	ExpiresAt time.Time // the answer's expiry
	// Checked: the simulator was asked about this token (once per token
	// and process); Accepted is its answer, back at CheckedAt.
	Checked   bool
	Accepted  bool
	CheckedAt time.Time
}

// verdict is nil for an honest answer: valid for minValidity from when
// the read was sent (0: none asked, none checked), and accepted upstream. A refusal counts only when it
// came back before the token's expiry (or the answer had none): a token
// the check reached too late says nothing about the engine.
func verdict(a answer, minValidity time.Duration) error {
	if minValidity > 0 && a.ExpiresAt.Before(a.Sent.Add(minValidity)) {
		return fmt.Errorf("handed out valid for %s after the read was sent, asked for %s",
			a.ExpiresAt.Sub(a.Sent).Round(time.Millisecond), minValidity)
	}
	if a.Checked && !a.Accepted && (a.ExpiresAt.IsZero() || a.CheckedAt.Before(a.ExpiresAt)) {
		return fmt.Errorf("refused upstream %s before its expiry", a.ExpiresAt.Sub(a.CheckedAt).Round(time.Millisecond))
	}
	return nil
}

func TestCheckVerdicts(t *testing.T) {
	sent := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return sent.Add(d) }
	tests := []struct {
		name string
		a    answer
		min  time.Duration
		ok   bool
	}{
		{"valid, accepted", answer{Sent: sent, ExpiresAt: at(15 * time.Second), Checked: true, Accepted: true, CheckedAt: at(time.Second)}, minValidity, true},
		{"valid, not checked (token seen before)", answer{Sent: sent, ExpiresAt: at(6 * time.Second)}, minValidity, true},
		{"exactly the min validity", answer{Sent: sent, ExpiresAt: at(minValidity)}, minValidity, true},
		{"shorter than asked", answer{Sent: sent, ExpiresAt: at(minValidity - time.Millisecond), Checked: true, Accepted: true, CheckedAt: at(time.Second)}, minValidity, false},
		{"already expired", answer{Sent: sent, ExpiresAt: at(-time.Second)}, minValidity, false},
		{"refused before its expiry", answer{Sent: sent, ExpiresAt: at(15 * time.Second), Checked: true, CheckedAt: at(2 * time.Second)}, minValidity, false},
		{"refused just before its expiry", answer{Sent: sent, ExpiresAt: at(15 * time.Second), Checked: true, CheckedAt: at(15*time.Second - time.Millisecond)}, minValidity, false},
		{"refused at its expiry", answer{Sent: sent, ExpiresAt: at(15 * time.Second), Checked: true, CheckedAt: at(15 * time.Second)}, minValidity, true},
		{"no min validity asked: not checked", answer{Sent: sent, ExpiresAt: at(-time.Second)}, 0, true},
		{"no min validity asked, refused before its expiry", answer{Sent: sent, ExpiresAt: at(time.Second), Checked: true, CheckedAt: at(0)}, 0, false},
		{"refused, no expiry in the answer", answer{Sent: sent, Checked: true, CheckedAt: at(time.Second)}, 0, false},
		{"refused after its expiry (check late under load)", answer{Sent: sent, ExpiresAt: at(15 * time.Second), Checked: true, CheckedAt: at(20 * time.Second)}, minValidity, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verdict(tt.a, tt.min); (err == nil) != tt.ok {
				t.Fatalf("verdict = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
