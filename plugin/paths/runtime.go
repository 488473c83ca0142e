package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoRuntimeDir: none of XDG_RUNTIME_DIR, TMPDIR (of this user) and
// HOME can hold the runtime directory.
var ErrNoRuntimeDir = errors.New("no runtime directory: set XDG_RUNTIME_DIR or HOME")

// maxSymlinks bounds the links openTrusted follows, as the kernel does.
const maxSymlinks = 40

// OpenRuntimeDir opens the private directory of this user's agents and
// state files, creating what is missing, and holds it open (see Dir):
//
//   - $XDG_RUNTIME_DIR/tokenkeeper when XDG_RUNTIME_DIR is an absolute path.
//     XDG_RUNTIME_DIR must be this user's (or root's) and writable by no
//     one else, as the XDG Base Directory spec requires; another user's —
//     root after `su` without `-` — is refused, never used.
//   - else $TMPDIR/tokenkeeper when TMPDIR is this user's own directory,
//     writable by no one else (macOS gives every user one);
//   - else $XDG_CACHE_HOME/tokenkeeper/run-<host> (default
//     ~/.cache/tokenkeeper/run-<host>): a shared /tmp would let another
//     user create the directory first and so disable tokenkeeper; a home
//     directory only its user and root can write. The host name keeps
//     machines sharing a home over NFS apart (flock is cluster-wide there).
//
// Every directory on the way is walked without following a link someone
// else could have planted (openTrusted). The directory itself must be a
// real directory owned by this user with mode 0700; a hostile one is
// reported with the command that fixes it.
func OpenRuntimeDir(getenv func(string) string) (*Dir, error) {
	uid := os.Getuid()
	if x := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
		return openXDGDir(x, uid)
	}
	if t := getenv("TMPDIR"); filepath.IsAbs(t) {
		if d, ok, err := openTmpDir(t, uid); ok {
			return d, err
		}
	}
	return openCacheDir(getenv, uid)
}

// Each way of OpenRuntimeDir is a function of its own: the front calls
// it on every start, and one frame holding every way's locals would sit
// under the whole walk (a stack doubling more, see cmd/tokenkeeper's ask).

// openXDGDir is the runtime directory in XDG_RUNTIME_DIR x.
func openXDGDir(x string, uid int) (*Dir, error) {
	parent, err := openBase(x, uid)
	if err != nil {
		return nil, fmt.Errorf("refusing XDG_RUNTIME_DIR=%s: %w; the XDG spec requires it to be yours with mode 0700 — "+
			"after `su`, use `su -` or `sudo -i`, or run `unset XDG_RUNTIME_DIR`", x, err)
	}
	defer unix.Close(parent)
	return openLeaf(parent, filepath.Join(x, "tokenkeeper"), uid)
}

// openTmpDir is the runtime directory in TMPDIR t, or why it cannot be
// opened there; not ok when t is not this user's own directory writable
// by no one else (OpenRuntimeDir goes on to the cache home then).
func openTmpDir(t string, uid int) (d *Dir, ok bool, err error) {
	var st unix.Stat_t
	parent, err := openTrusted(t, uid, &st)
	if err != nil {
		return nil, false, nil //nolint:nilerr // not ours to use: the next way is tried
	}
	defer unix.Close(parent)
	if modeOwnNoWrite(&st, t, uid) != nil {
		return nil, false, nil
	}
	d, err = openLeaf(parent, filepath.Join(t, "tokenkeeper"), uid)
	return d, true, err
}

// RuntimeDir is the path of the runtime directory (OpenRuntimeDir),
// created and checked, for callers that only name files in it.
func RuntimeDir(getenv func(string) string) (string, error) {
	d, err := OpenRuntimeDir(getenv)
	if err != nil {
		return "", err
	}
	defer d.Close()
	return d.Path(), nil
}

// FallbackDir is where OpenRuntimeDir puts the runtime directory when
// neither XDG_RUNTIME_DIR nor TMPDIR can hold it ("" without a home).
// Nothing is created.
func FallbackDir(getenv func(string) string) string {
	base := cacheHome(getenv)
	if base == "" {
		return ""
	}
	return filepath.Join(base, "tokenkeeper", "run-"+hostTag())
}

func cacheHome(getenv func(string) string) string {
	if c := getenv("XDG_CACHE_HOME"); filepath.IsAbs(c) {
		return filepath.Clean(c)
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".cache")
	}
	return ""
}

// hostTag is the host name reduced to letters, digits, '.', '-' and '_'.
func hostTag() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, h)
}

// openCacheDir opens (creating) the runtime directory under the cache
// home: the directory above it must be this user's or root's and
// writable by no one else, every level below is made 0700.
func openCacheDir(getenv func(string) string, uid int) (*Dir, error) {
	dir := FallbackDir(getenv)
	if dir == "" {
		return nil, ErrNoRuntimeDir
	}
	cache := cacheHome(getenv)
	cur, err := openBase(filepath.Dir(cache), uid)
	if err != nil {
		return nil, fmt.Errorf("could not use %s for the runtime directory (XDG_RUNTIME_DIR is unset): %w", dir, err)
	}
	at := filepath.Dir(cache)
	for _, name := range []string{filepath.Base(cache), "tokenkeeper"} {
		at = filepath.Join(at, name)
		next, err := openChildDir(cur, name, at, uid, modeOwnNoWrite, true)
		_ = unix.Close(cur)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	defer unix.Close(cur)
	return openLeaf(cur, dir, uid)
}

// openBase opens a directory the runtime directory is made in: reached
// safely (openTrusted), owned by this user or root, writable by no one else.
func openBase(path string, uid int) (int, error) {
	var st unix.Stat_t
	fd, err := openTrusted(path, uid, &st)
	if err != nil {
		return -1, err
	}
	switch {
	case int(st.Uid) != uid && st.Uid != 0:
		err = fmt.Errorf("%s is owned by uid %d, not by you (uid %d) or root", path, st.Uid, uid)
	case st.Mode&0o022 != 0:
		err = fmt.Errorf("%s is writable by group or others (mode %04o; fix: chmod go-w %s)", path, st.Mode&0o7777, path)
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("%w: %w", err, ErrInsecureDir)
	}
	return fd, nil
}

// openLeaf creates (0700) and opens the runtime directory at path in the
// open directory parent.
func openLeaf(parent int, path string, uid int) (*Dir, error) {
	fd, err := openChildDir(parent, filepath.Base(path), path, uid, modePrivate, true)
	if err != nil {
		return nil, err
	}
	return newDir(path, fd, uid), nil
}

// dirRule checks a directory opened at path; the error says how to fix it.
type dirRule func(st *unix.Stat_t, path string, uid int) error

// modePrivate: this user's, mode 0700 (no group or other bits).
func modePrivate(st *unix.Stat_t, path string, uid int) error {
	if int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, not by you (uid %d); move it away: mv %s %s.hostile: %w", path, st.Uid, uid, path, path, ErrInsecureDir)
	}
	if st.Mode&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, want 0700; fix: chmod 700 %s: %w", path, st.Mode&0o7777, path, ErrInsecureDir)
	}
	return nil
}

// modeOwnNoWrite: this user's, writable by no one else.
func modeOwnNoWrite(st *unix.Stat_t, path string, uid int) error {
	if int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, not by you (uid %d); move it away: mv %s %s.hostile: %w", path, st.Uid, uid, path, path, ErrInsecureDir)
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %04o); fix: chmod go-w %s: %w", path, st.Mode&0o7777, path, ErrInsecureDir)
	}
	return nil
}

// openChildDir opens the directory name in parent (path names it in
// messages), creating it 0700 first when create is set and it is
// missing. A symlink or anything but a directory is refused, never
// followed.
func openChildDir(parent int, name, path string, uid int, rule dirRule, create bool) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(parent, name, flags, 0)
	if create && errors.Is(err, unix.ENOENT) {
		// Made only when missing: the open after it checks it as any.
		if err := unix.Mkdirat(parent, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("could not create %s: %w", path, err)
		}
		fd, err = unix.Openat(parent, name, flags, 0)
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return -1, fmt.Errorf("%s is not a directory (a symlink or a file); move it away: mv %s %s.hostile: %w", path, path, path, ErrInsecureDir)
	}
	if err != nil {
		return -1, fmt.Errorf("could not open %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("could not inspect %s: %w", path, err)
	}
	if err := rule(&st, path, uid); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// openTrusted opens the directory at the absolute path by walking it from
// "/" one name at a time, without following a link blindly: every
// directory passed through must be owned by root or uid and writable by
// no one else — or sticky, like /tmp, and then the next name must be
// root's or uid's, since others may add names there but not replace
// ours. A symlink is followed only when it lies in such a directory. So
// nobody but root and uid can have chosen where the walk ends. st is
// set to what fstat says of the directory opened.
func openTrusted(path string, uid int, st *unix.Stat_t) (int, error) {
	if !filepath.IsAbs(path) {
		return -1, fmt.Errorf("%s is not an absolute path", path)
	}
	p := filepath.Clean(path)
	for range maxSymlinks {
		fd, next, err := walkTrusted(p, uid, st)
		if err != nil || next == "" {
			return fd, err
		}
		p = next
	}
	return -1, fmt.Errorf("%s: too many levels of symbolic links", path)
}

// walkTrusted walks the clean absolute path p (see openTrusted). At a
// symlink it stops and returns the path to walk instead. Each directory
// is inspected once, by the step that opens it: st holds what fstat said
// of the one held, for the next step's checks and, at the end, for the
// caller's.
func walkTrusted(p string, uid int, st *unix.Stat_t) (int, string, error) {
	cur, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", fmt.Errorf("could not open /: %w", err)
	}
	done := "/"
	if err := unix.Fstat(cur, st); err != nil {
		_ = unix.Close(cur)
		return -1, "", err
	}
	if err := trustedDir(st, done, uid); err != nil {
		_ = unix.Close(cur)
		return -1, "", err
	}
	// p is clean and absolute: each directory reached is named by a
	// prefix of it, no string built.
	for i := 1; i < len(p); {
		j := strings.IndexByte(p[i:], '/')
		if j < 0 {
			j = len(p)
		} else {
			j += i
		}
		next, target, err := stepTrusted(cur, st, done, p[:j], p[i:j], uid)
		_ = unix.Close(cur)
		if err != nil {
			return -1, "", err
		}
		if target != "" {
			if !filepath.IsAbs(target) {
				target = filepath.Join(done, target)
			}
			return -1, filepath.Join(target, p[j:]), nil
		}
		cur, done, i = next, p[:j], j+1
	}
	return cur, "", nil
}

// stepTrusted opens name (at path) in the trusted directory cur (stat
// st, path done): a directory is opened and checked, and st becomes its
// stat; a symlink's target is returned instead.
func stepTrusted(cur int, st *unix.Stat_t, done, path, name string, uid int) (int, string, error) {
	var lst unix.Stat_t
	if err := unix.Fstatat(cur, name, &lst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, "", &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&0o022 != 0 && lst.Uid != 0 && int(lst.Uid) != uid {
		return -1, "", fmt.Errorf("%s belongs to uid %d in %s, which others can write to; move it away: mv %s %s.hostile: %w",
			path, lst.Uid, done, path, path, ErrInsecureDir)
	}
	switch lst.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := readlinkAt(cur, name)
		if err != nil {
			return -1, "", &os.PathError{Op: "readlink", Path: path, Err: err}
		}
		return -1, target, nil
	case unix.S_IFDIR:
	default:
		return -1, "", fmt.Errorf("%s is not a directory", path)
	}
	fd, err := unix.Openat(cur, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.Fstat(fd, st); err != nil || st.Ino != lst.Ino || st.Dev != lst.Dev {
		_ = unix.Close(fd)
		return -1, "", fmt.Errorf("%s changed while it was opened: %w", path, ErrInsecureDir)
	}
	if err := trustedDir(st, path, uid); err != nil {
		_ = unix.Close(fd)
		return -1, "", err
	}
	return fd, "", nil
}

// readlinkAt is the target of the symlink name in the directory dirfd.
// A function of its own, never inlined: its PathMax buffer lives on the
// stack, and in stepTrusted's frame it would grow every caller's stack
// past 8 KiB on each walk, links or not (a stack copy, and its pages, at
// every start of the front).
//
//go:noinline
func readlinkAt(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// trustedDir: a directory on the way that only root and uid can change
// (a sticky directory is checked name by name in stepTrusted).
func trustedDir(st *unix.Stat_t, path string, uid int) error {
	if st.Uid != 0 && int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, who could redirect it: %w", path, st.Uid, ErrInsecureDir)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("%s is writable by group or others (mode %04o); fix: chmod go-w %s: %w", path, st.Mode&0o7777, path, ErrInsecureDir)
	}
	return nil
}
