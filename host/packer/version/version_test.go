// SPDX-License-Identifier: Apache-2.0

package version

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSemver(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"v1.2.4-dev", "1.2.4-dev"},
		{"v0.1.0-rc.1", "0.1.0-rc.1"},
		{"dev", Unstamped},
		{"", Unstamped},
		{"1.2.3", Unstamped}, // a release always carries its "v"
		{"v1.2", Unstamped},
		{"v1.2.3.4", Unstamped},
	} {
		if got := Semver(c.in); got != c.want {
			t.Errorf("Semver(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestUnstampedInstallsWithPath(t *testing.T) {
	// Packer's `plugins install --path` takes only releases and "-dev".
	if got := PluginVersion.SemVer().Prerelease(); got != "dev" {
		t.Errorf("an unstamped test binary reports prerelease %q, want dev", got)
	}
}

// TestMakeStampsPluginVersion: `make packer-plugin` stamps the tree's
// version (make version) into the plugin, which reports it to Packer.
func TestMakeStampsPluginVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin with make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	bin := filepath.Join(t.TempDir(), "packer-plugin-tokenkeeper")
	mk := exec.Command("make", "-s", "-C", "../../..", "packer-plugin", "PACKER_PLUGIN_BIN="+bin, "VERSION=v9.8.7")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make packer-plugin: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "describe").Output()
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	var desc struct {
		Version    string `json:"version"`
		APIVersion string `json:"api_version"`
	}
	if err := json.Unmarshal(out, &desc); err != nil {
		t.Fatalf("describe printed %q: %v", out, err)
	}
	if desc.Version != "9.8.7" || !strings.HasPrefix(desc.APIVersion, "x") {
		t.Errorf("describe = %s, want version 9.8.7 and an api_version", out)
	}
}
