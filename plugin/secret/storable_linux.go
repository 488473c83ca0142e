//go:build linux

package secret

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Inode flags of FS_IOC_GETFLAGS (linux/fs.h), for filesystems whose
// statx does not report them.
const (
	fsImmutableFL = 0x10
	fsAppendFL    = 0x20
)

// checkStorable detects, before a rotated value is fetched, what would
// make replacing path fail: path is a mount point (a single-file bind
// mount: rename over it is EBUSY), path or its directory is immutable or
// append-only (EPERM), the filesystem is read-only or full.
func checkStorable(path, dir string) error {
	if mountPoint(path, dir) {
		return fmt.Errorf("%w: %s is a mount point (a single-file bind mount, such as docker -v HOST_FILE:%s), and a mount point cannot be replaced; "+
			"mount the directory that holds it instead (docker -v HOST_DIR:%s)", ErrCannotStore, path, path, dir)
	}
	for _, p := range []struct{ path, what string }{{path, "the file"}, {dir, "its directory"}} {
		if attr := inodeAttr(p.path); attr != "" {
			return fmt.Errorf("%w: %s %s is %s, so the rotated token could not be written; remove the attribute: chattr -%s %s",
				ErrCannotStore, p.what, p.path, attr, attr[:1], shellQuote(p.path))
		}
	}
	return checkSpace(dir)
}

// mountPoint reports whether path is the root of a mount: statx says so
// (Linux 5.8+), its device differs from its directory's, or
// /proc/self/mountinfo lists it (a bind mount within one filesystem keeps
// the device number).
func mountPoint(path, dir string) bool {
	var stx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx) == nil &&
		stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
	}
	var f, d unix.Stat_t
	if unix.Lstat(path, &f) == nil && unix.Stat(dir, &d) == nil && f.Dev != d.Dev {
		return true
	}
	return listedMountPoint(path)
}

// listedMountPoint reports whether /proc/self/mountinfo names path as a
// mount point (field 5, with octal escapes).
func listedMountPoint(path string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMount(fields[4]) == path {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, …).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// inodeAttr is "immutable" or "append-only" when path carries that
// attribute (chattr +i, +a), else "".
func inodeAttr(path string) string {
	var stx unix.Statx_t
	mask := uint64(unix.STATX_ATTR_IMMUTABLE | unix.STATX_ATTR_APPEND)
	if unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_BASIC_STATS, &stx) == nil && stx.Attributes_mask&mask == mask {
		return attrName(stx.Attributes&unix.STATX_ATTR_IMMUTABLE != 0, stx.Attributes&unix.STATX_ATTR_APPEND != 0)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return "" // the filesystem has no such flags
	}
	return attrName(flags&fsImmutableFL != 0, flags&fsAppendFL != 0)
}

func attrName(immutable, appendOnly bool) string {
	switch {
	case immutable:
		return "immutable"
	case appendOnly:
		return "append-only"
	}
	return ""
}

// checkSpace refuses a read-only or full filesystem: the temporary file
// needs reserveBytes and an inode.
func checkSpace(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil // BeginRotation's temporary file is the real test
	}
	switch {
	case st.Flags&unix.ST_RDONLY != 0:
		return fmt.Errorf("%w: the filesystem holding %s is mounted read-only", ErrCannotStore, dir)
	case st.Bavail*uint64(st.Bsize) < reserveBytes:
		return fmt.Errorf("%w: the filesystem holding %s is full (%d bytes free): free some space",
			ErrCannotStore, dir, st.Bavail*uint64(st.Bsize))
	case st.Files > 0 && st.Ffree == 0:
		return fmt.Errorf("%w: the filesystem holding %s has no free inodes", ErrCannotStore, dir)
	}
	return nil
}
