//go:build !linux

package secret

// checkStorable has no mount, attribute or space checks here; the
// temporary file BeginRotation creates and fsyncs is the test.
func checkStorable(path, dir string) error { return nil }
