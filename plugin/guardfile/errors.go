package guardfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Error is a store operation that failed: the file, what failed, and what
// the user can do about it. The keeper refuses the login it guarded.
type Error struct {
	Op   string // "read", "write", "lock"
	Path string
	Err  error
	Fix  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("could not %s %s: %v; %s", e.Op, e.Path, e.Err, e.Fix)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// fail wraps a failed operation on name with the fix for it.
func (s *Store) fail(op, name string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	path := s.fs.Path(name)
	return &Error{Op: op, Path: path, Err: err, Fix: s.fixFor(path, err)}
}

// fixFor says what to do about err on path.
func (s *Store) fixFor(path string, err error) string {
	reset := s.remedy.Reset
	fi, statErr := os.Lstat(path)
	switch {
	case errors.Is(err, syscall.EISDIR) || statErr == nil && fi.IsDir():
		return "it must be a file, not a directory: remove it (rm -r " + path + "); it holds only lockout records"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "the file system holding it is full: free space there, then retry"
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return "its directory must be yours and writable: check its owner, mode (0700) and mount"
	case errors.Is(err, errLegacyActive):
		return "wait until then, or " + reset
	case errors.Is(err, errCorrupt), errors.Is(err, syscall.EINVAL):
		return reset
	}
	return s.remedy.Check + ", then retry; " + reset
}
