//go:build !linux

package agent

// releaseCode does nothing here: see trim_linux.go.
func releaseCode() {}
