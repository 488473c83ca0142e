package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
)

// runtimeErrnos are the file-system failures of the runtime directory that
// no retry cures: the directory is missing, not ours, read-only or full.
// Each needs a person to act, so it is a configuration problem (exit 2,
// not retryable), never a transient upstream one.
var runtimeErrnos = []syscall.Errno{
	syscall.ENOENT, syscall.ENOTDIR, syscall.EACCES, syscall.EPERM,
	syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT, syscall.ENAMETOOLONG,
}

// runtimeDirError classifies an error of preparing the runtime directory
// (creating it, its key, locks or log, or a socket path too long to bind:
// the agent would fail to start at every call and the caller would see
// "upstream unavailable", exit 5, for a permanent problem): such a failure is BadConfig with
// the cause and what to do; anything else passes through unchanged. With
// dir set, only a failure on a path inside dir counts (starting the agent
// may also fail on the executable, which no runtime directory fixes).
func runtimeDirError(err error, dir string) error {
	var e *exec.Error
	var long *agentconn.SocketPathError
	switch {
	case errors.As(err, &long):
		return &exec.Error{Code: exec.CodeBadConfig, Err: err, Message: fmt.Sprintf("%v: set XDG_RUNTIME_DIR to a "+
			"shorter directory of yours (e.g. /run/user/%d), or use --no-agent", long, os.Getuid())}
	case err == nil || errors.As(err, &e) || (dir != "" && !failedIn(err, dir)):
		return err
	}
	for _, n := range runtimeErrnos {
		if errors.Is(err, n) {
			return &exec.Error{Code: exec.CodeBadConfig, Err: err, Message: fmt.Sprintf("%v: %s", err, runtimeFix(n))}
		}
	}
	return err
}

// failedIn reports whether err is a file operation on a path in dir.
func failedIn(err error, dir string) bool {
	in := func(p string) bool { return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) }
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return in(pe.Path)
	case errors.As(err, &le):
		return in(le.New)
	}
	return false
}

func runtimeFix(n syscall.Errno) string {
	switch n {
	case syscall.ENOSPC, syscall.EDQUOT:
		return "the runtime directory's file system is full: free space there, or set XDG_RUNTIME_DIR to another directory"
	case syscall.EROFS:
		return "the runtime directory is read-only: set XDG_RUNTIME_DIR to a writable directory of yours"
	}
	return "set XDG_RUNTIME_DIR (or, without it, TMPDIR) to an existing directory you can write, or use --no-agent"
}
