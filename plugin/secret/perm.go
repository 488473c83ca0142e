package secret

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Permission rules, as ssh's StrictModes: a file that decides what
// tokenkeeper runs, trusts or sends must not be changeable by anyone but
// the current user and root.
const (
	groupOtherRead  = 0o044
	groupOtherWrite = 0o022
)

// CheckTrustedFile reports whether the file at path, described by fi (from
// Stat or, better, from the opened descriptor's Stat), could have been
// changed by someone other than the current user or root: it must be
// owned by one of them and not writable by group or others. The error
// wraps ErrInsecurePermissions and says which command fixes it. Ownership
// is checked on Unix only.
func CheckTrustedFile(path string, fi fs.FileInfo) error {
	owner, self, ok := fileOwner(fi)
	if !ok {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&groupOtherWrite != 0 {
		return fmt.Errorf("%w: mode %04o lets %s change it; run `chmod go-w %s`",
			ErrInsecurePermissions, perm, who(perm, groupOtherWrite), shellQuote(path))
	}
	return checkOwner(path, owner, self)
}

// checkOwner accepts files of the current user and of root.
func checkOwner(path string, owner, self int) error {
	if owner == self || owner == 0 {
		return nil
	}
	return fmt.Errorf("%w: owned by uid %d, not by you (uid %d) or root, so that user can change it; "+
		"run `sudo chown %d %s`, or copy it to a file you own", ErrInsecurePermissions, owner, self, self, shellQuote(path))
}

// who names the classes of users whose bits of mask are set in perm.
func who(perm, mask fs.FileMode) string {
	g, o := perm&mask&0o070 != 0, perm&mask&0o007 != 0
	switch {
	case g && o:
		return "group and others"
	case g:
		return "group"
	default:
		return "others"
	}
}

// CheckTrustedDirs reports whether someone other than the current user
// or root could replace the file at path by renaming or deleting entries
// in one of the directories above it: each directory from the file's up
// to / must be owned by the current user or root, and not writable by
// group or others unless its sticky bit is set (as on /tmp, where only
// an entry's owner may remove it). Both the path as given and the path
// with symbolic links resolved are checked. The error wraps
// ErrInsecurePermissions. Nothing is checked where Unix ownership is
// unknown.
func CheckTrustedDirs(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("could not resolve %s: %w", path, err)
	}
	if err := checkDirChain(filepath.Dir(abs)); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil || filepath.Dir(real) == filepath.Dir(abs) {
		return nil // a missing file is reported by whoever opens it
	}
	return checkDirChain(filepath.Dir(real))
}

func checkDirChain(dir string) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("could not check directory %s: %w", dir, err)
		}
		if err := checkDir(dir, fi); err != nil {
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

func checkDir(dir string, fi fs.FileInfo) error {
	owner, self, ok := fileOwner(fi)
	if !ok {
		return nil
	}
	perm := fi.Mode().Perm()
	if perm&groupOtherWrite != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("%w: directory %s has mode %04o: %s can replace the files in it; run `chmod go-w %s`",
			ErrInsecurePermissions, dir, perm, who(perm, groupOtherWrite), shellQuote(dir))
	}
	if owner != self && owner != 0 {
		return fmt.Errorf("%w: directory %s is owned by uid %d, not by you (uid %d) or root, so that user can replace "+
			"the files in it; keep the file in a directory owned by you or root", ErrInsecurePermissions, dir, owner, self)
	}
	return nil
}

// shellQuote quotes s for a command line when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`&;|<>()*?[]#~!{}") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
