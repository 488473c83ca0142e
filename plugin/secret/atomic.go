package secret

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that a reader, or the file
// after a crash at any instant, sees either the complete old content or
// the complete new one — never an empty or partial file. It writes a
// temporary file in the same directory, fsyncs it, renames it over path
// and fsyncs the directory. A symlink at path is followed, so the file it
// points to is replaced. On failure the temporary file is removed.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicWriter{}.write(path, data, perm)
}

// atomicWriter carries test hooks for WriteFileAtomic.
type atomicWriter struct {
	// beforeRename, when set, runs after the temporary file is complete
	// and synced and before it is renamed; tests kill the process there.
	beforeRename func(tmp string)
}

func (w atomicWriter) write(path string, data []byte, perm os.FileMode) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp makes the file 0600 from the start, so the new value is
	// never readable by others, not even briefly.
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("could not create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := writeAndSync(f, data, perm); err != nil {
		return err
	}
	if w.beforeRename != nil {
		w.beforeRename(tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("could not replace file: %w", err)
	}
	// The rename is durable only once the directory entry is on disk.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("file replaced, but could not sync its directory: %w", err)
	}
	return nil
}

func writeAndSync(f *os.File, data []byte, perm os.FileMode) error {
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("could not set mode of temporary file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("could not write temporary file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("could not sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("could not close temporary file: %w", err)
	}
	return nil
}

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
