package agent

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Harden makes the agent process a daemon that keeps its secrets to
// itself: working directory "/" (it must not keep a caller's workspace or
// mount busy), no core dumps (RLIMIT_CORE 0: a core would hold passwords
// and tokens), and, where the system has it, no access for the user's
// other processes (denyInspection: on Linux PR_SET_DUMPABLE 0, which
// makes /proc/<pid>/environ, mem and fd unreadable to them and refuses
// ptrace). What remains: root, and the kernel, can still read the
// agent's memory; the agent's own children (secret commands) are
// separate processes with their own environment (see secret.Ref.Scrub).
func Harden() error {
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("could not change to /: %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("could not turn core dumps off: %w", err)
	}
	return denyInspection()
}
