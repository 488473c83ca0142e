// Package version holds the version packer-plugin-tokenkeeper reports to
// Packer (through `describe`), which `packer plugins install --path` uses to
// name the installed binary.
package version

import sdkversion "github.com/hashicorp/packer-plugin-sdk/version"

var (
	// Version is the plugin's semantic version, without a "v".
	Version = "0.1.0"

	// VersionPrerelease marks a pre-release ("dev"); empty for a release.
	// Packer installs only releases and "dev" pre-releases with --path.
	VersionPrerelease = ""

	// PluginVersion is what the plugin set reports to Packer.
	PluginVersion = sdkversion.NewPluginVersion(Version, VersionPrerelease, "")
)
