//go:build unix

package secret

import "syscall"

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
