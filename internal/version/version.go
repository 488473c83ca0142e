// Package version is the release a binary belongs to. The release is the
// git tag: `make build` and goreleaser both stamp it at link time,
//
//	-ldflags "-X github.com/tokenkeeper/tokenkeeper/internal/version.Version=v1.2.3
//	          -X github.com/tokenkeeper/tokenkeeper/internal/version.Commit=<sha>"
//
// and a `go install …@v1.2.3` build, which is not stamped, gets the
// module version the go command recorded.
package version

import "runtime/debug"

// Version and Commit are set by the linker (see the package comment); they
// stay empty in a plain `go build`.
var (
	// Version is the semantic version with its "v": "v1.2.3" at a tag,
	// "v1.2.4-dev" between tags (tools/release/version.sh).
	Version = ""
	// Commit is the full git commit the binary was built from.
	Commit = ""
)

// String is the release of this binary: the stamped Version, else the
// module version of a `go install` build, else "dev".
func String() string {
	bi, _ := debug.ReadBuildInfo()
	return resolve(Version, bi)
}

// CommitString is the commit of this binary: the stamped Commit, else
// the vcs.revision the go command recorded (marked "(modified)" for a
// tree with uncommitted changes), else "unknown".
func CommitString() string {
	if Commit != "" {
		return Commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return vcsCommit(bi.Settings)
}

func resolve(stamped string, bi *debug.BuildInfo) string {
	switch {
	case stamped != "":
		return stamped
	case bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		return bi.Main.Version
	}
	return "dev"
}

func vcsCommit(settings []debug.BuildSetting) string {
	rev, modified := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "unknown"
	case modified:
		return rev + " (modified)"
	}
	return rev
}
