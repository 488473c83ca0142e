package paths

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrInsecureFile: a state file in the runtime directory is a symlink,
// not a regular file, not this user's, or open to group or others. It
// wraps ErrInsecureDir, which classifies both.
var ErrInsecureFile = fmt.Errorf("state file is not private: %w", ErrInsecureDir)

// Dir is an open private directory — the runtime directory — whose state
// files (sockets, locks, logs, keys, guard.json, names files) are opened,
// created, replaced and removed relative to its descriptor, never through
// a symlink: once opened, renaming the directory or planting links in its
// place or inside it cannot redirect a write. Its methods take base names
// only. A Dir is safe for concurrent use; Close it when done.
type Dir struct {
	path string
	f    *os.File // the directory, opened O_DIRECTORY|O_NOFOLLOW
	uid  int      // this process's: whose its files must be
}

// newDir is the Dir of the directory open as fd, of this process's uid.
func newDir(path string, fd, uid int) *Dir {
	return &Dir{path: path, f: os.NewFile(uintptr(fd), path), uid: uid}
}

// OpenDir opens an existing directory at path that only this user can
// change: the path is walked from "/" through directories only this user
// or root can change (see openTrusted), and the directory itself must be
// owned by this user and writable by no one else. Tests and tools use it;
// the runtime directory is opened, and checked to be 0700, with
// OpenRuntimeDir.
func OpenDir(path string) (*Dir, error) {
	uid := os.Getuid()
	var st unix.Stat_t
	parent, err := openTrusted(filepath.Dir(path), uid, &st)
	if err != nil {
		return nil, err
	}
	defer unix.Close(parent)
	fd, err := openChildDir(parent, filepath.Base(path), path, uid, modeOwnNoWrite, false)
	if err != nil {
		return nil, err
	}
	return newDir(path, fd, uid), nil
}

// OpenDirAsIs opens the directory at path, following symlinks, without
// OpenDir's checks of who may change it: for a directory the user chose
// for a file of theirs (a secret file that a rotation rewrites), whose
// trust is theirs to judge. Its files are handled as in any Dir.
func OpenDirAsIs(path string) (*Dir, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("could not open directory: %w", err)
	}
	return &Dir{path: path, f: f, uid: os.Getuid()}, nil
}

// Path is the directory's path, for messages and for dialing sockets.
func (d *Dir) Path() string { return d.path }

// Join is the path of name in the directory, for messages and dialing.
func (d *Dir) Join(name string) string { return filepath.Join(d.path, name) }

// Close releases the directory's descriptor.
func (d *Dir) Close() error { return d.f.Close() }

func (d *Dir) fd() int { return int(d.f.Fd()) }

// checkName refuses anything but a plain file name: no path may escape
// the directory.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("invalid state file name %q", name)
	}
	return nil
}

// OpenFile opens name in the directory with flag (os.O_* values), adding
// O_NOFOLLOW and O_CLOEXEC: a symlink is refused, not followed. The file
// must be a regular file of this user with no group or other access
// (ErrInsecureFile otherwise); a new one gets perm.
func (d *Dir) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	fd, _, err := d.openPrivate(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), d.Join(name)), nil
}

// openPrivate is OpenFile's descriptor, and the file's size as fstat
// said it.
func (d *Dir) openPrivate(name string, flag int, perm os.FileMode) (int, int64, error) {
	if err := checkName(name); err != nil {
		return -1, 0, err
	}
	fd, err := unix.Openat(d.fd(), name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return -1, 0, &os.PathError{Op: "open", Path: d.Join(name), Err: err}
	}
	var st unix.Stat_t
	if err := d.checkPrivateFile(fd, &st, name); err != nil {
		_ = unix.Close(fd)
		return -1, 0, err
	}
	return fd, st.Size, nil
}

// checkPrivateFile refuses the open file name (fd) that is not a
// regular file of d's uid closed to group and others; st is what fstat
// says.
func (d *Dir) checkPrivateFile(fd int, st *unix.Stat_t, name string) error {
	err := unix.Fstat(fd, st)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != d.uid || st.Mode&0o077 != 0 {
		return d.notPrivate(name, st, err)
	}
	return nil
}

// notPrivate says why checkPrivateFile refused name (err: fstat's). Its
// messages are formatted apart, off the front's deepest path.
func (d *Dir) notPrivate(name string, st *unix.Stat_t, err error) error {
	p := d.Join(name)
	switch {
	case err != nil:
		return fmt.Errorf("could not inspect %s: %w", p, err)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s is not a regular file: %w", p, ErrInsecureFile)
	case int(st.Uid) != d.uid:
		return fmt.Errorf("%s is owned by uid %d, not by you: %w", p, st.Uid, ErrInsecureFile)
	}
	return fmt.Errorf("%s has mode %04o, want 0600 (chmod 600 %s): %w", p, st.Mode&0o777, p, ErrInsecureFile)
}

// ReadFile reads name, at most limit bytes (more is an error). A missing
// file is an error wrapping os.ErrNotExist. It reads the descriptor
// itself, sized by fstat: state files are read on every call of the
// front, and an *os.File would cost a syscall more (its F_GETFL).
func (d *Dir) ReadFile(name string, limit int64) ([]byte, error) {
	fd, size, err := d.openPrivate(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	data := make([]byte, 0, min(max(size, 0), limit)+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := unix.Read(fd, data[len(data):cap(data)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("could not read %s: %w", d.Join(name), &os.PathError{Op: "read", Path: d.Join(name), Err: err})
		}
		if n == 0 {
			return data, nil
		}
		data = data[:len(data)+n]
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("%s is larger than %d bytes", d.Join(name), limit)
		}
	}
}

// WriteAtomic replaces name with data, mode perm: a new temporary file in
// the directory (created exclusively, never through a link) is written,
// synced and renamed over name, then the directory is synced. A reader,
// or the file after a crash, sees the whole old or the whole new content.
// Whatever name was — a symlink, a file of another user — it is replaced,
// never written through.
func (d *Dir) WriteAtomic(name string, data []byte, perm os.FileMode) error {
	return d.writeAtomic(name, data, perm, nil)
}

// writeAtomic is WriteAtomic; beforeRename, when set, runs once the
// temporary file (named by its path) is complete and synced, before it is
// renamed: tests kill the process there.
func (d *Dir) writeAtomic(name string, data []byte, perm os.FileMode, beforeRename func(tmp string)) (err error) {
	if err := checkName(name); err != nil {
		return err
	}
	tmp, f, err := d.createTemp(name)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = d.Remove(tmp)
		}
	}()
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
	if beforeRename != nil {
		beforeRename(d.Join(tmp))
	}
	if err := d.Rename(tmp, name); err != nil {
		return err
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("%s replaced, but could not sync its directory: %w", d.Join(name), err)
	}
	return nil
}

// CreateTemp creates a new, empty file (0600) with a random name derived
// from base, and returns its name and the open file.
func (d *Dir) CreateTemp(base string) (string, *os.File, error) {
	if err := checkName(base); err != nil {
		return "", nil, err
	}
	return d.createTemp(base)
}

func (d *Dir) createTemp(base string) (string, *os.File, error) {
	for range 10 {
		name := "." + base + ".tmp-" + randomSuffix()
		f, err := d.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("could not create temporary file: %w", err)
		}
		return name, f, nil
	}
	return "", nil, fmt.Errorf("could not create temporary file for %s: too many collisions", d.Join(base))
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Rename renames oldName to newName within the directory, replacing
// newName (whatever it is: a symlink is replaced, not followed).
func (d *Dir) Rename(oldName, newName string) error {
	if err := errors.Join(checkName(oldName), checkName(newName)); err != nil {
		return err
	}
	if err := unix.Renameat(d.fd(), oldName, d.fd(), newName); err != nil {
		return &os.LinkError{Op: "rename", Old: d.Join(oldName), New: d.Join(newName), Err: err}
	}
	return nil
}

// Link makes newName a second name of oldName; it fails with an error
// wrapping os.ErrExist when newName exists, so that of several processes
// publishing a complete file under one name exactly one wins.
func (d *Dir) Link(oldName, newName string) error {
	if err := errors.Join(checkName(oldName), checkName(newName)); err != nil {
		return err
	}
	if err := unix.Linkat(d.fd(), oldName, d.fd(), newName, 0); err != nil {
		return &os.LinkError{Op: "link", Old: d.Join(oldName), New: d.Join(newName), Err: err}
	}
	return nil
}

// Remove removes name (a file, socket or symlink, never what a symlink
// points to). A missing name is an error wrapping os.ErrNotExist.
func (d *Dir) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.fd(), name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: d.Join(name), Err: err}
	}
	return nil
}

// Lstat describes name itself (a symlink is not followed).
func (d *Dir) Lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := checkName(name); err != nil {
		return st, err
	}
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, &os.PathError{Op: "lstat", Path: d.Join(name), Err: err}
	}
	return st, nil
}

// Names lists the names in the directory, unsorted.
func (d *Dir) Names() ([]string, error) {
	fd, err := unix.Openat(d.fd(), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("could not list %s: %w", d.path, err)
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("could not list %s: %w", d.path, err)
	}
	return names, nil
}
