//go:build unix

package config

import (
	"os"
	"syscall"
)

// idOf is the identity and content stamp of fi: device, inode, size,
// modification and change times.
func idOf(fi os.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino // Dev is int32 on darwin
		id.ctime = ctimeOf(st)
	}
	return id
}
