package paths

import (
	"os"
	"path/filepath"
	"strconv"
)

// bindPath is a path to name in d that the kernel resolves through the
// descriptor d holds (/proc/self/fd/N), whatever has since happened to
// d's path; without /proc, d's path.
func (d *Dir) bindPath(name string) string {
	proc := "/proc/self/fd/" + strconv.Itoa(d.fd())
	if fi, err := os.Stat(proc); err == nil && fi.IsDir() {
		return filepath.Join(proc, name)
	}
	return d.Join(name)
}
