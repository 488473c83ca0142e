//go:build release

// Package release checks what `make release-snapshot` produced, the way a
// user meets it: archives and checksums, the .deb and .rpm, the SBOMs, and
// the Packer plugin's zips, installed with the pinned Packer. Run it
// through `make release-test`, which sets TK_RELEASE_DIST (dist/),
// TK_RELEASE_PACKER_DIST (host/packer/dist/) and TK_E2E_PACKER.
package release

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// platforms are the release targets.
var platforms = []struct{ os, arch string }{
	{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"},
}

const runTimeout = 2 * time.Minute

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run this through `make release-test`", name)
	}
	return v
}

// snapshotVersion is the version goreleaser gave the snapshot, without "v".
func snapshotVersion(t *testing.T, dist string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dist, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Version == "" {
		t.Fatalf("metadata.json %q: %v", b, err)
	}
	return m.Version
}

// sums reads a SHA256SUMS-style file: file name -> hex digest.
func sums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s: malformed line %q", path, sc.Text())
		}
		out[name] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkSums: every file the sums file lists exists with that digest, and
// every wanted file is listed.
func checkSums(t *testing.T, dir, sumsFile string, want []string) {
	t.Helper()
	listed := sums(t, filepath.Join(dir, sumsFile))
	for name, sum := range listed {
		if got := sha256File(t, filepath.Join(dir, name)); got != sum {
			t.Errorf("%s: %s has sha256 %s, the sums file says %s", sumsFile, name, got, sum)
		}
	}
	for _, w := range want {
		if _, ok := listed[w]; !ok {
			t.Errorf("%s does not list %s", sumsFile, w)
		}
	}
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	done := time.AfterFunc(runTimeout, func() { _ = cmd.Process.Kill() })
	defer done.Stop()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// isolated is an environment with a private HOME and runtime dirs.
func isolated(t *testing.T) ([]string, string) {
	t.Helper()
	d := t.TempDir()
	return []string{"HOME=" + d, "XDG_RUNTIME_DIR=" + d, "XDG_CONFIG_HOME=" + d, "TMPDIR=" + d,
		"PATH=" + os.Getenv("PATH"), "CHECKPOINT_DISABLE=1"}, d
}
