package agentconn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// LocateFromNames is Locate for a caller that does not load the
// configuration (the lean front binary): the variables that count come
// from the names file every agent of configPath writes when it starts
// (paths.Agent.Names), the tag from the runtime directory's key, over
// environ as Locate sees it (Environ). fresh reports whether that names
// file was modified no earlier than configPath: an agent wrote it after the file last changed, so it names
// the variables of the configuration as it is now, and a.Exec is where
// the caller's agent listens, if one runs.
//
// Not fresh — no names file (no agent has started since), one older
// than configPath, a configPath that cannot be stat'ed, names but no
// key — means: load the configuration instead (the full binary), which
// also starts the agent and rewrites the file. A fresh answer may still
// find no agent (ErrNoAgent from Call) or a retiring one (ErrAgentLeft:
// the file changed again): the agent itself checks the configuration's
// content before every call. err is for a runtime directory that cannot
// be read and a socket path too long to bind (*SocketPathError), never
// for a missing or stale file.
func LocateFromNames(dir *paths.Dir, configPath string, environ []string) (a paths.Agent, fresh bool, err error) {
	untagged, err := paths.Locate(dir, configPath, "")
	if err != nil {
		return paths.Agent{}, false, err
	}
	if !newerThan(dir, filepath.Base(untagged.Names), untagged.Config) {
		return untagged, false, nil
	}
	names, err := paths.ReadEnvNames(untagged)
	if errors.Is(err, os.ErrNotExist) {
		return untagged, false, nil // removed since the stat
	}
	if err != nil {
		return paths.Agent{}, false, err
	}
	tag := ""
	if len(names) > 0 {
		key, err := paths.ReadKey(dir)
		if errors.Is(err, os.ErrNotExist) {
			return untagged, false, nil
		}
		if err != nil {
			return paths.Agent{}, false, fmt.Errorf("could not name the agent: %w", err)
		}
		tag = paths.EnvTag(key, names, Lookup(Environ(environ)))
	}
	a, err = paths.Locate(dir, untagged.Config, tag)
	if err == nil && len(a.Socket) > maxSocketPath {
		err = &SocketPathError{Socket: a.Socket, Max: maxSocketPath}
	}
	return a, err == nil, err
}

// newerThan reports whether the file name in dir was modified no earlier
// than the file at path. New content under an old modification time
// (`cp -p`) is not missed: the agent compares content before every call.
func newerThan(dir *paths.Dir, name, path string) bool {
	st, err := dir.Lstat(name)
	if err != nil {
		return false
	}
	names := st.Mtim.Nano()
	// st again, not a second Stat_t: the front's deepest calls pass here,
	// and a stack past 4 KiB costs it a stack copy at every start.
	if err := unix.Stat(path, &st); err != nil {
		return false
	}
	return names >= st.Mtim.Nano()
}
