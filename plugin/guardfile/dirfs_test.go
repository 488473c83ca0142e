package guardfile

import (
	"context"
	"path/filepath"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// The store over a directory path, which only the tests use: the tools
// open the runtime directory once and use NewIn.

// New returns the store in dir, which must exist and be private to the
// user. Pruning reads the runtime clock (tests move it with
// testing/synctest). Nothing is read or written before the first call.
func New(dir string) *Store { return NewFS(DirFS(dir)) }

// DirFS is the FS of the private directory at this path: each operation
// opens it (paths.OpenDir, walked without following a link anyone else
// could have planted) and works relative to it (RootFS).
type DirFS string

func (d DirFS) root() (RootFS, func(), error) {
	dir, err := paths.OpenDir(string(d))
	if err != nil {
		return RootFS{}, nil, err
	}
	return RootFS{dir}, func() { _ = dir.Close() }, nil
}

// ReadFile implements FS.
func (d DirFS) ReadFile(name string) ([]byte, error) {
	r, done, err := d.root()
	if err != nil {
		return nil, err
	}
	defer done()
	return r.ReadFile(name)
}

// WriteFile implements FS.
func (d DirFS) WriteFile(name string, data []byte) error {
	r, done, err := d.root()
	if err != nil {
		return err
	}
	defer done()
	return r.WriteFile(name, data)
}

// Remove implements FS.
func (d DirFS) Remove(name string) error {
	r, done, err := d.root()
	if err != nil {
		return err
	}
	defer done()
	return r.Remove(name)
}

// Lock implements FS; the lock outlives the directory's descriptor.
func (d DirFS) Lock(ctx context.Context, name string) (func(), error) {
	r, done, err := d.root()
	if err != nil {
		return nil, err
	}
	defer done()
	return r.Lock(ctx, name)
}

// Path implements FS.
func (d DirFS) Path(name string) string { return filepath.Join(string(d), name) }
