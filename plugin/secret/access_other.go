//go:build !unix

package secret

import "io/fs"

// accessDir cannot be checked without access(2); Store reports failures.
func accessDir(string) error { return nil }

// fileOwner cannot tell owners apart without Unix uids; ownership is not
// checked there.
func fileOwner(fs.FileInfo) (owner, self int, ok bool) { return 0, 0, false }
