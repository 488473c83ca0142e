//go:build linux || darwin

// Package platform names the systems tokenkeeper runs on: Linux and macOS.
// The agent needs unix sockets with peer credentials, a private runtime
// directory and fork/exec semantics that Windows lacks, so the commands
// import this package for its constraint: building them for any other
// system stops with "build constraints exclude all Go files in
// …/internal/platform" instead of an error deep in a dependency.
package platform

// Supported lists the GOOS values tokenkeeper builds for.
const Supported = "linux, darwin"
