package agent

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// denyInspection clears the dumpable flag: /proc/<pid>/environ, mem,
// maps and fd become root's, and processes of the same user may no
// longer ptrace the agent.
func denyInspection() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("could not make the agent non-dumpable: %w", err)
	}
	return nil
}
