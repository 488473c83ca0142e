//go:build !linux

package agent

// denyInspection has no portable equivalent of PR_SET_DUMPABLE; other
// systems rely on their own process protections.
func denyInspection() error { return nil }
