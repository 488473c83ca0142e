package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		name, stamped string
		bi            *debug.BuildInfo
		want          string
	}{
		{"stamped wins", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, "v1.2.3"},
		{"go install", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, "v0.9.0"},
		{"go build in a checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"no build info", "", nil, "dev"},
	} {
		if got := resolve(c.stamped, c.bi); got != c.want {
			t.Errorf("%s: resolve = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestVCSCommit(t *testing.T) {
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "abc123"}
	for _, c := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "unknown"},
		{[]debug.BuildSetting{rev}, "abc123"},
		{[]debug.BuildSetting{rev, {Key: "vcs.modified", Value: "true"}}, "abc123 (modified)"},
	} {
		if got := vcsCommit(c.settings); got != c.want {
			t.Errorf("vcsCommit(%v) = %q, want %q", c.settings, got, c.want)
		}
	}
}

// TestVersionScript: tools/release/version.sh derives the version from
// the git tag: the tag itself at a clean tagged HEAD, the next patch with
// -dev otherwise, v0.1.0-dev before the first tag.
func TestVersionScript(t *testing.T) {
	script, err := filepath.Abs("../../tools/release/version.sh")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "HOME="+repo, "XDG_CONFIG_HOME="+repo, "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	version := func() string {
		t.Helper()
		cmd := exec.Command(script)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "HOME="+repo, "XDG_CONFIG_HOME="+repo, "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("version.sh: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, name), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		git("add", name)
		git("commit", "-q", "-m", name)
	}
	edit := func(name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, name), []byte("edited"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	commit("a")
	steps := []struct {
		do   func()
		want string
	}{
		{func() {}, "v0.1.0-dev"},
		{func() { git("tag", "v1.2.3") }, "v1.2.3"},
		{func() { edit("a") }, "v1.2.4-dev"},
		{func() { git("checkout", "-q", "a") }, "v1.2.3"},
		{func() { commit("b") }, "v1.2.4-dev"},
		{func() { git("tag", "not-a-version") }, "v1.2.4-dev"},
		{func() { git("tag", "v1.3.0") }, "v1.3.0"},
	}
	for i, s := range steps {
		s.do()
		if got := version(); got != s.want {
			t.Errorf("step %d: version.sh = %q, want %q", i, got, s.want)
		}
	}
}

// TestMakeBuildStampsVersion: `make build` with a version prints it from
// every binary it builds, through both --version and the version verb.
func TestMakeBuildStampsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries with make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	bin := t.TempDir()
	const v, commit = "v9.8.7-rc.1", "0123456789abcdef0123456789abcdef01234567"
	mk := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+bin, "VERSION="+v, "COMMIT="+commit)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, c := range []struct {
		bin  string
		args []string
		want []string
	}{
		{"tokenkeeper", []string{"--version"}, []string{"tokenkeeper " + v + "\n", "commit: " + commit + "\n"}},
		{"tokenkeeper", []string{"version"}, []string{"tokenkeeper " + v + "\n", "commit: " + commit + "\n"}},
		{"tokenkeeper-sim", []string{"--version"}, []string{"tokenkeeper-sim " + v + "\n"}},
	} {
		cmd := exec.Command(filepath.Join(bin, c.bin), c.args...)
		cmd.Env = []string{"HOME=" + bin, "XDG_RUNTIME_DIR=" + bin, "XDG_CONFIG_HOME=" + bin, "TMPDIR=" + bin}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v", c.bin, c.args, err)
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s %v printed %q, want it to contain %q", c.bin, c.args, out, w)
			}
		}
	}
}
