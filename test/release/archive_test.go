//go:build release

package release

import (
	"archive/tar"
	"compress/gzip"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// archiveFiles are the entries every tokenkeeper archive must hold.
var archiveFiles = []string{
	"tokenkeeper", "tokenkeeper-core", "tokenkeeper-sim", "LICENSE", "README.md", "CHANGELOG.md",
	"docs/exec-protocol.md", "docs/configuration.md",
	"completions/tokenkeeper.bash", "completions/_tokenkeeper", "completions/tokenkeeper.fish",
	"man/tokenkeeper.1.gz", "man/tokenkeeper-get.1.gz",
}

// TestArchives: one archive per platform with static binaries of that
// platform, completions and man pages, an SBOM beside it, all in the
// checksums; the host's binaries print the snapshot's version.
func TestArchives(t *testing.T) {
	dist := env(t, "TK_RELEASE_DIST")
	v := snapshotVersion(t, dist)
	var want []string
	for _, p := range platforms {
		name := fmt.Sprintf("tokenkeeper_%s_%s_%s.tar.gz", v, p.os, p.arch)
		want = append(want, name, name+".cdx.json")
		t.Run(p.os+"_"+p.arch, func(t *testing.T) {
			dir := t.TempDir()
			entries := untar(t, filepath.Join(dist, name), dir)
			for _, f := range archiveFiles {
				if !slices.Contains(entries, f) {
					t.Errorf("%s lacks %s (has %v)", name, f, entries)
				}
			}
			for _, bin := range []string{"tokenkeeper", "tokenkeeper-core", "tokenkeeper-sim"} {
				checkBinary(t, filepath.Join(dir, bin), p.os, p.arch)
			}
			checkSBOM(t, filepath.Join(dist, name+".cdx.json"))
			if p.os == runtime.GOOS && p.arch == runtime.GOARCH {
				e, _ := isolated(t)
				if out := run(t, e, filepath.Join(dir, "tokenkeeper"), "--version"); !strings.HasPrefix(out, "tokenkeeper v"+v+"\n") {
					t.Errorf("tokenkeeper --version printed %q, want tokenkeeper v%s first", out, v)
				}
				if out := run(t, e, filepath.Join(dir, "tokenkeeper-sim"), "--version"); out != "tokenkeeper-sim v"+v+"\n" {
					t.Errorf("tokenkeeper-sim --version printed %q, want v%s", out, v)
				}
			}
		})
	}
	checkSums(t, dist, fmt.Sprintf("tokenkeeper_%s_checksums.txt", v), want)
}

// untar extracts a .tar.gz into dir and lists its regular files.
func untar(t *testing.T, path, dir string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for range 1000 {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || strings.Contains(h.Name, "..") {
			continue
		}
		names = append(names, h.Name)
		dst := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(out, tr, h.Size); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	t.Fatalf("%s: more than 1000 entries", path)
	return nil
}

// checkBinary: an executable of the platform, and on Linux static (no
// program interpreter, no shared libraries).
func checkBinary(t *testing.T, path, goos, goarch string) {
	t.Helper()
	switch goos {
	case "linux":
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer f.Close()
		machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
		if f.Machine != machine {
			t.Errorf("%s: machine %v, want %v", path, f.Machine, machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has a program interpreter: not static", path)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s links %v: not static", path, libs)
		}
	case "darwin":
		f, err := macho.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer f.Close()
		cpu := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]
		if f.Cpu != cpu {
			t.Errorf("%s: cpu %v, want %v", path, f.Cpu, cpu)
		}
	}
}

// checkSBOM: a CycloneDX document naming the main module and gRPC.
func checkSBOM(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct{ Name string } `json:"component"`
		} `json:"metadata"`
		Components []struct{ Name string } `json:"components"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Name != "github.com/tokenkeeper/tokenkeeper" {
		t.Errorf("%s: bomFormat %q, component %q", path, bom.BOMFormat, bom.Metadata.Component.Name)
	}
	if !slices.ContainsFunc(bom.Components, func(c struct{ Name string }) bool { return c.Name == "google.golang.org/grpc" }) {
		t.Errorf("%s lists no google.golang.org/grpc among %d components", path, len(bom.Components))
	}
}

// packageFiles are the paths both packages install.
var packageFiles = []string{
	"/usr/bin/tokenkeeper",
	"/usr/bin/tokenkeeper-core",
	"/usr/share/bash-completion/completions/tokenkeeper",
	"/usr/share/fish/vendor_completions.d/tokenkeeper.fish",
	"/usr/share/man/man1/tokenkeeper.1.gz",
	"/usr/share/man/man1/tokenkeeper-get.1.gz",
}

// TestPackages: the .deb and .rpm of each Linux architecture exist, are
// checksummed, and install the binary, completions and man pages.
func TestPackages(t *testing.T) {
	dist := env(t, "TK_RELEASE_DIST")
	v := snapshotVersion(t, dist)
	var want []string
	for _, arch := range []string{"amd64", "arm64"} {
		rpmArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch]
		deb := fmt.Sprintf("tokenkeeper_%s_%s.deb", strings.ReplaceAll(v, "-", "~"), arch)
		rpm := fmt.Sprintf("tokenkeeper-%s-1.%s.rpm", strings.ReplaceAll(v, "-", "~"), rpmArch)
		want = append(want, deb, rpm)
		t.Run(arch, func(t *testing.T) {
			checkDeb(t, filepath.Join(dist, deb), arch)
			checkRPM(t, filepath.Join(dist, rpm))
		})
	}
	checkSums(t, dist, fmt.Sprintf("tokenkeeper_%s_checksums.txt", v), want)
}

func checkDeb(t *testing.T, path, arch string) {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb to read the .deb")
	}
	e, _ := isolated(t)
	contents := run(t, e, "dpkg-deb", "--contents", path)
	for _, f := range append(packageFiles, "/usr/share/zsh/vendor-completions/_tokenkeeper", "/usr/share/doc/tokenkeeper/copyright") {
		if !strings.Contains(contents, "."+f+"\n") {
			t.Errorf("%s does not install %s:\n%s", filepath.Base(path), f, contents)
		}
	}
	if got := strings.TrimSpace(run(t, e, "dpkg-deb", "--field", path, "Architecture")); got != arch {
		t.Errorf("%s: Architecture %q, want %s", filepath.Base(path), got, arch)
	}
}

func checkRPM(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 4 || string(b[:4]) != "\xed\xab\xee\xdb" {
		t.Fatalf("%s is not an RPM (no lead magic)", filepath.Base(path))
	}
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Logf("no rpm to list %s; checked its lead only", filepath.Base(path))
		return
	}
	e, _ := isolated(t)
	list := run(t, e, "rpm", "-qlp", path)
	for _, f := range append(packageFiles, "/usr/share/zsh/site-functions/_tokenkeeper") {
		if !strings.Contains(list, f+"\n") {
			t.Errorf("%s does not install %s:\n%s", filepath.Base(path), f, list)
		}
	}
}
