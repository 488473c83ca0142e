//go:build release

package release

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPackerZips: the plugin's release is exactly the layout packer init
// downloads — packer-plugin-tokenkeeper_vV_<api>_<os>_<arch>.zip holding
// only the binary of the same name, and packer-plugin-tokenkeeper_vV_SHA256SUMS
// listing every zip with its digest — and the host's zip installs with
// `packer plugins install --path`.
func TestPackerZips(t *testing.T) {
	dist := env(t, "TK_RELEASE_PACKER_DIST")
	packer := env(t, "TK_E2E_PACKER")
	v := snapshotVersion(t, dist)
	sumsName := fmt.Sprintf("packer-plugin-tokenkeeper_v%s_SHA256SUMS", v)
	listed := sums(t, filepath.Join(dist, sumsName))
	if len(listed) != len(platforms) {
		t.Errorf("%s lists %d files, want one zip per platform (%d): %v", sumsName, len(listed), len(platforms), listed)
	}
	api := ""
	for _, p := range platforms {
		zipName := ""
		for name := range listed {
			if strings.HasPrefix(name, "packer-plugin-tokenkeeper_v"+v+"_x") && strings.HasSuffix(name, "_"+p.os+"_"+p.arch+".zip") {
				zipName = name
			}
		}
		if zipName == "" {
			t.Errorf("%s lists no zip for %s/%s: %v", sumsName, p.os, p.arch, listed)
			continue
		}
		if got := sha256File(t, filepath.Join(dist, zipName)); got != listed[zipName] {
			t.Errorf("%s has sha256 %s, %s says %s", zipName, got, sumsName, listed[zipName])
		}
		binName := strings.TrimSuffix(zipName, ".zip")
		zipAPI := strings.Split(strings.TrimPrefix(binName, "packer-plugin-tokenkeeper_v"+v+"_"), "_")[0]
		if api != "" && zipAPI != api {
			t.Errorf("%s: api version %s, other zips %s", zipName, zipAPI, api)
		}
		api = zipAPI
		bin := unzipOnly(t, filepath.Join(dist, zipName), binName)
		if p.os == runtime.GOOS && p.arch == runtime.GOARCH {
			checkDescribe(t, bin, v, api)
			installWithPacker(t, packer, bin, binName)
		}
	}
}

// unzipOnly extracts the zip's one entry, which must be want, executable.
func unzipOnly(t *testing.T, path, want string) string {
	t.Helper()
	r, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.File) != 1 || r.File[0].Name != want {
		names := []string{}
		for _, f := range r.File {
			names = append(names, f.Name)
		}
		t.Fatalf("%s holds %v, want only %s", filepath.Base(path), names, want)
	}
	f := r.File[0]
	if f.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s in %s is not executable (%v)", want, filepath.Base(path), f.Mode())
	}
	in, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), want)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	return dst
}

// checkDescribe: the binary reports the version and API version its name
// carries, as packer init requires.
func checkDescribe(t *testing.T, bin, v, api string) {
	t.Helper()
	e, _ := isolated(t)
	var desc struct {
		Version    string   `json:"version"`
		APIVersion string   `json:"api_version"`
		Data       []string `json:"datasources"`
	}
	out := run(t, e, bin, "describe")
	if err := json.Unmarshal([]byte(out), &desc); err != nil {
		t.Fatalf("describe printed %q: %v", out, err)
	}
	if desc.Version != v || desc.APIVersion != api || len(desc.Data) != 1 {
		t.Errorf("describe = %s; want version %s, api_version %s, one data source", out, v, api)
	}
}

// installWithPacker installs the unzipped binary with the pinned Packer
// into a private plugin directory and checks the name and checksum Packer
// recorded.
func installWithPacker(t *testing.T, packer, bin, binName string) {
	t.Helper()
	e, dir := isolated(t)
	plugins := filepath.Join(dir, "plugins")
	e = append(e, "PACKER_PLUGIN_PATH="+plugins, "PACKER_CONFIG_DIR="+filepath.Join(dir, "packer"))
	out := run(t, e, packer, "plugins", "install", "--path", bin, "github.com/tokenkeeper/tokenkeeper")
	installed := filepath.Join(plugins, "github.com", "tokenkeeper", "tokenkeeper", binName)
	if _, err := os.Stat(installed); err != nil {
		t.Fatalf("packer installed no %s: %v\n%s", installed, err, out)
	}
	sum, err := os.ReadFile(installed + "_SHA256SUM")
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256File(t, bin); string(sum) != got {
		t.Errorf("Packer recorded sha256 %s for the plugin, the binary from the zip has %s", sum, got)
	}
	if list := run(t, e, packer, "plugins", "installed"); !strings.Contains(list, binName) {
		t.Errorf("packer plugins installed does not list %s:\n%s", binName, list)
	}
}
