// SPDX-License-Identifier: Apache-2.0

// Package version holds the version packer-plugin-tokenkeeper reports to
// Packer (through `describe`), which `packer plugins install --path` uses to
// name the installed binary. It is tokenkeeper's release, stamped at link
// time from the git tag like every other binary of the tree (package
// github.com/tokenkeeper/tokenkeeper/internal/version), without the "v".
package version

import (
	"regexp"
	"strings"

	sdkversion "github.com/hashicorp/packer-plugin-sdk/version"

	tkversion "github.com/tokenkeeper/tokenkeeper/internal/version"
)

// Unstamped is what an unstamped build reports: a development
// pre-release, which `packer plugins install --path` accepts.
const Unstamped = "0.0.0-dev"

// semver is a three-part version with an optional pre-release.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// PluginVersion is what the plugin set reports to Packer.
var PluginVersion = sdkversion.NewRawVersion(Semver(tkversion.String()))

// Semver turns a tokenkeeper release ("v1.2.3", "v1.2.4-dev") into the
// three-part semantic version Packer wants ("1.2.3", "1.2.4-dev"); anything
// else (an unstamped "dev" build) is Unstamped.
func Semver(release string) string {
	if !semver.MatchString(release) {
		return Unstamped
	}
	return strings.TrimPrefix(release, "v")
}
