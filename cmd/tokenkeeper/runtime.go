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
)

// maxSocketPath is the longest path a unix socket can bind to here (the
// size of sockaddr_un's sun_path less its terminating NUL: 107 on Linux,
// 103 on macOS).
var maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

// checkSocketPath refuses an agent socket path the kernel cannot bind: the
// agent would fail to start at every call and the caller would see
// "upstream unavailable" (exit 5, retryable) for a permanent problem.
func checkSocketPath(socket string) error {
	if len(socket) <= maxSocketPath {
		return nil
	}
	return exec.Errorf(exec.CodeBadConfig, "the agent's socket path %s is %d bytes, longer than the %d a unix socket "+
		"allows: set XDG_RUNTIME_DIR to a shorter directory of yours (e.g. /run/user/%d), or use --no-agent",
		socket, len(socket), maxSocketPath, os.Getuid())
}

// runtimeErrnos are the file-system failures of the runtime directory that
// no retry cures: the directory is missing, not ours, read-only or full.
// Each needs a person to act, so it is a configuration problem (exit 2,
// not retryable), never a transient upstream one.
var runtimeErrnos = []syscall.Errno{
	syscall.ENOENT, syscall.ENOTDIR, syscall.EACCES, syscall.EPERM,
	syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT, syscall.ENAMETOOLONG,
}

// runtimeDirError classifies an error of preparing the runtime directory
// (creating it, its key, locks or log): such a failure is BadConfig with
// the cause and what to do; anything else passes through unchanged. With
// dir set, only a failure on a path inside dir counts (starting the agent
// may also fail on the executable, which no runtime directory fixes).
func runtimeDirError(err error, dir string) error {
	var e *exec.Error
	if err == nil || errors.As(err, &e) || (dir != "" && !failedIn(err, dir)) {
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

// checkRuntimeSpace refuses to start an agent in a runtime directory whose
// file system has no block or inode left: the agent could not bind its
// socket, would exit at once, and the caller would see "agent did not
// become ready" (retryable) for a problem only a person can fix.
func checkRuntimeSpace(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil //nolint:nilerr // unknown: let the start itself tell
	}
	blocks := uint64(st.Bavail)
	if os.Geteuid() == 0 {
		blocks = uint64(st.Bfree) // root may use the reserved blocks
	}
	if blocks > 0 && st.Ffree > 0 {
		return nil
	}
	return runtimeDirError(&os.PathError{Op: "start the agent in", Path: dir, Err: syscall.ENOSPC}, dir)
}
