package guardfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// FS is the raw file I/O of a Store, every name relative to its private
// directory: the one seam where a safer way to open files (openat,
// O_NOFOLLOW) plugs in. The Store adds the meaning: what a missing file
// is, what each failure tells the user to fix.
type FS interface {
	// ReadFile returns the content of name; an error wrapping
	// fs.ErrNotExist when it does not exist.
	ReadFile(name string) ([]byte, error)
	// WriteFile replaces name atomically with data, mode 0600.
	WriteFile(name string, data []byte) error
	// Remove deletes name; a missing name is no error.
	Remove(name string) error
	// Lock holds an exclusive lock on name (created when missing) until
	// the release, across processes, or fails when ctx ends.
	Lock(ctx context.Context, name string) (unlock func(), err error)
	// Path is name as a user finds it, for messages.
	Path(name string) string
}

// maxFile bounds what ReadFile reads of a state file.
const maxFile = 4 << 20

// RootFS is the FS of an open private directory: every name is opened,
// replaced, removed and locked relative to its descriptor, never through a
// symlink (paths.Dir), so renaming the directory or planting links in it
// cannot redirect a write.
type RootFS struct{ Dir *paths.Dir }

// ReadFile implements FS.
func (r RootFS) ReadFile(name string) ([]byte, error) { return r.Dir.ReadFile(name, maxFile) }

// WriteFile implements FS.
func (r RootFS) WriteFile(name string, data []byte) error {
	return r.Dir.WriteAtomic(name, data, 0o600)
}

// Remove implements FS.
func (r RootFS) Remove(name string) error {
	if err := r.Dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Lock implements FS with flock(2): the kernel drops it when its holder
// dies.
func (r RootFS) Lock(ctx context.Context, name string) (func(), error) {
	l, err := r.Dir.Lock(ctx, name)
	if err != nil {
		return nil, err
	}
	return func() { _ = l.Unlock() }, nil
}

// Path implements FS.
func (r RootFS) Path(name string) string { return r.Dir.Join(name) }

// failedFS is the FS of a directory that could not be set up: every
// operation fails with why, so that no login goes ahead without a guard.
type failedFS struct{ err error }

func (f failedFS) ReadFile(string) ([]byte, error) { return nil, f.err }
func (f failedFS) WriteFile(string, []byte) error  { return f.err }
func (f failedFS) Remove(string) error             { return f.err }
func (f failedFS) Lock(context.Context, string) (func(), error) {
	return nil, f.err
}
func (f failedFS) Path(name string) string { return fmt.Sprintf("<no runtime directory>/%s", name) }
