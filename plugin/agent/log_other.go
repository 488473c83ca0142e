//go:build !linux

package agent

import (
	"os"

	"golang.org/x/sys/unix"
)

// replaceStderr makes descriptor 2 refer to f.
func replaceStderr(f *os.File) error { return unix.Dup2(int(f.Fd()), 2) }
