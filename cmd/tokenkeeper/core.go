package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// coreName is the full CLI's binary (cmd/tokenkeeper-core).
const coreName = "tokenkeeper-core"

// corePaths are where the core may be installed, in the order tried:
// beside the front (bin/, `go install`, a release archive), else in
// ../libexec/tokenkeeper/ (a distribution package keeping it off PATH).
// exe is the front's own path with symlinks resolved, so that a symlink
// to the front on PATH still finds its core.
func corePaths(exe string) []string {
	dir := filepath.Dir(exe)
	return []string{filepath.Join(dir, coreName), filepath.Join(dir, "..", "libexec", "tokenkeeper", coreName)}
}

// errNoCore: the core is in none of corePaths.
var errNoCore = errors.New("the full tokenkeeper CLI is not installed")

// findCore is the first of corePaths that is an executable file.
func findCore(executable string) (string, []string, error) {
	exe, err := filepath.EvalSymlinks(executable)
	if err != nil {
		exe = executable
	}
	tried := corePaths(exe)
	for _, p := range tried {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, tried, nil
		}
	}
	return "", tried, errNoCore
}

// delegate replaces this process with the core, run with argv (argv[0]
// kept, so the core and its messages see the name the caller used), the
// same environment and stdio. It returns only when that fails: 1, with
// one stderr line naming what was tried.
func (f *front) delegate(argv []string) int {
	exe, err := f.Executable()
	if err != nil {
		exe = f.Args[0]
	}
	core, tried, err := findCore(exe)
	if err != nil {
		line(f.Stderr, err.Error()+": looked for "+tried[0]+" and "+tried[1]+"; reinstall tokenkeeper")
		return 1
	}
	err = f.Exec(core, argv, f.Environ)
	line(f.Stderr, "could not run "+core+": "+err.Error())
	return 1
}

// line writes one stderr line of the CLI.
func line(w io.Writer, msg string) {
	_, _ = io.WriteString(w, "tokenkeeper: "+msg+"\n")
}
