package paths

import (
	"fmt"
	"os"
	"path/filepath"
)

// MaxLogSize bounds an agent's log: beyond it the log is renamed to
// <log>.1 (replacing the previous one) and a new one begun, so an agent
// never holds more than two log files of this size in the runtime
// directory, often a small tmpfs.
const MaxLogSize = 1 << 20

// OpenLog opens the log of agent a for appending, in the runtime
// directory (0600, never through a symlink), first rotating it when it
// has outgrown MaxLogSize.
func (a Agent) OpenLog() (*os.File, error) {
	name := filepath.Base(a.Log)
	if st, err := a.Dir.Lstat(name); err == nil && st.Size > MaxLogSize {
		_ = a.Dir.Rename(name, name+".1")
	}
	f, err := a.Dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("could not open agent log: %w", err)
	}
	return f, nil
}
