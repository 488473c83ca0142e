//go:build !linux

package paths

// bindPath is d's path joined with name: without /proc/self/fd the bind
// goes through the path, and Listen checks that the socket appeared in d.
func (d *Dir) bindPath(name string) string { return d.Join(name) }
