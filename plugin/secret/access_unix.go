//go:build unix

package secret

import (
	"io/fs"
	"os"
	"syscall"
)

// access(2) mode bits, the same on every Unix: write and search.
const (
	accessWrite  = 0x2
	accessSearch = 0x1
)

// accessDir asks the kernel whether we may create entries in dir; it
// accounts for read-only mounts that mode bits do not show.
func accessDir(dir string) error {
	return syscall.Access(dir, accessWrite|accessSearch)
}

// fileOwner returns the uid that owns fi and the effective uid of this
// process, which is what file access is decided by.
func fileOwner(fi fs.FileInfo) (owner, self int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), os.Geteuid(), true
}
