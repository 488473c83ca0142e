// Package rundir lets the test suite prove it leaves the invoking user's
// own tokenkeeper runtime directories alone: every test must give the
// processes it starts a private XDG_RUNTIME_DIR, HOME and TMPDIR.
package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// Dirs are the user's runtime directories that tokenkeeper may use, as
// getenv sees the environment: $XDG_RUNTIME_DIR/tokenkeeper and the
// fallback under the cache home (paths.FallbackDir). Nothing is created.
func Dirs(getenv func(string) string) []string {
	var out []string
	if x := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
		out = append(out, filepath.Join(x, "tokenkeeper"))
	}
	if f := paths.FallbackDir(getenv); f != "" {
		out = append(out, f)
	}
	return out
}

// Snapshot describes every entry of dirs: name, type, and for all but
// logs (which an agent of the user, running meanwhile, may append to)
// size and modification time. Two equal snapshots mean no test created,
// removed or wrote a state file there.
func Snapshot(dirs []string) string {
	var lines []string
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			lines = append(lines, fmt.Sprintf("%s: %v", d, errorKind(err)))
			continue
		}
		for _, e := range entries {
			line := filepath.Join(d, e.Name()) + " " + e.Type().String()
			if fi, err := e.Info(); err == nil && !strings.Contains(e.Name(), ".log") {
				line += fmt.Sprintf(" %d %d", fi.Size(), fi.ModTime().UnixNano())
			}
			lines = append(lines, line)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

func errorKind(err error) string {
	if os.IsNotExist(err) {
		return "absent"
	}
	return err.Error()
}
