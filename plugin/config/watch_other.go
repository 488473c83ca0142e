//go:build unix && !linux && !darwin

package config

import "syscall"

// ctimeOf is 0 where Stat_t's field differs: size, mtime and inode remain.
func ctimeOf(*syscall.Stat_t) int64 { return 0 }
