package secret

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// WriteFileAtomic replaces path with data so that a reader, or the file
// after a crash at any instant, sees either the complete old content or
// the complete new one — never an empty or partial file: it is
// paths.Dir.WriteAtomic in path's directory (a temporary file written,
// fsynced, renamed over path, the directory fsynced). A symlink at path is
// followed, so the file it points to is replaced. On failure the temporary
// file is removed.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	d, err := paths.OpenDirAsIs(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.WriteAtomic(filepath.Base(path), data, perm)
}

// syncDir fsyncs directory dir, so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Store replaces the value of a File reference atomically (see
// WriteFileAtomic) with mode 0600. Other references cannot be written.
func (r Ref) Store(ctx context.Context, v Secret) error {
	if err := ctx.Err(); err != nil {
		return &Error{Ref: r.String(), Err: fmt.Errorf("could not store: %w", err)}
	}
	if r.kind() != kindFile {
		return &Error{Ref: r.String(), Err: fmt.Errorf("%w: only a file reference can be written", ErrInvalidRef)}
	}
	if v.IsZero() {
		return &Error{Ref: r.String(), Err: fmt.Errorf("could not store: %w", ErrEmpty)}
	}
	if err := WriteFileAtomic(r.File, []byte(v.Reveal()+"\n"), 0o600); err != nil {
		return &Error{Ref: r.String(), Err: fmt.Errorf("could not store: %w", err)}
	}
	return nil
}

// CheckWritable reports whether Store can succeed: r is a File reference,
// its directory exists and lets us create files, and the file, if it
// exists, is not readable by group or others.
func (r Ref) CheckWritable() error {
	if r.kind() != kindFile {
		return &Error{Ref: r.String(), Err: fmt.Errorf("%w: must be a file reference to be written back", ErrInvalidRef)}
	}
	if err := checkWritable(r.File); err != nil {
		return &Error{Ref: r.String(), Err: err}
	}
	return nil
}

func checkWritable(path string) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("could not use directory %s: %w", dir, err)
	}
	if !di.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := accessDir(dir); err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("could not stat: %w", err)
	}
	return checkMode(path, fi)
}
