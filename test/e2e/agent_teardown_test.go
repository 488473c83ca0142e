package e2e

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"
)

// TestAgentTeardown: however an agent ends — SIGTERM, `agent stop`, or its
// idle timeout — it revokes what it holds (DESIGN rule 9): the simulator
// ends with the refresh token revoked and no live session, and the agent
// process is gone.
func TestAgentTeardown(t *testing.T) {
	tests := []struct {
		name string
		idle string // agent.idle_timeout
		end  func(t *testing.T, tk *tkEnv, pid int)
	}{
		{"SIGTERM", "15m", func(t *testing.T, _ *tkEnv, pid int) {
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}},
		{"agent stop", "15m", func(t *testing.T, tk *tkEnv, pid int) {
			if r := tk.run(t, nil, "agent", "stop"); r.code != 0 {
				t.Fatalf("agent stop: exit %d: %s", r.code, r.stderr)
			}
		}},
		{"idle exit", "10s", func(*testing.T, *tkEnv, int) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
			cfg := "agent:\n  idle_timeout: " + tc.idle + "\n" + vcfConfig(s, e2eUser, "{env: TK_E2E_PW}")
			tk := newTK(t, cfg, pwEnv)
			if r := tk.run(t, nil, "get", "--profile", "sddc"); r.code != 0 {
				t.Fatalf("get: exit %d: %s", r.code, r.stderr)
			}
			if st := s.Stats(t); st.Logins != 1 || st.ActiveSessions != 1 {
				t.Fatalf("after get: %+v, want 1 login and 1 live refresh token", st)
			}
			pid := statusPID(t, tk)
			tc.end(t, tk, pid)
			waitTornDown(t, s, pid, 25*time.Second) // idle exit: 10s (the minimum) plus teardown
		})
	}
}

// statusPID is the pid of the running agent as `status --json` reports it.
func statusPID(t *testing.T, tk *tkEnv) int {
	t.Helper()
	r := tk.run(t, nil, "status", "--json")
	var doc struct {
		Agent struct {
			Running bool
			PID     int
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); r.code != 0 || err != nil || !doc.Agent.Running || doc.Agent.PID <= 0 {
		t.Fatalf("status --json: exit %d (%v): %s %s", r.code, err, r.stdout, r.stderr)
	}
	return doc.Agent.PID
}

// waitTornDown polls, up to limit, until the simulator counts one
// revocation and no live session, and the agent process is gone; it fails
// as soon as the agent is gone without that.
func waitTornDown(t *testing.T, s *Sim, pid int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := s.Stats(t)
		gone := pidGone(pid)
		if st.Revocations == 1 && st.ActiveSessions == 0 && gone {
			return
		}
		// The agent revokes before it exits: once gone, nothing changes.
		if gone && s.Stats(t) == st || time.Now().After(deadline) {
			t.Fatalf("after %s: %+v, agent gone %v; want 1 revocation, 0 live sessions, no agent", limit, st, gone)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
