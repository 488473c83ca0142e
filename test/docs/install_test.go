//go:build docscheck

package docs

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMakeInstallUninstall runs `make install` and `make uninstall` with a
// temporary PREFIX and HOME, checks what each put in place or removed,
// and that nothing of it is left.
func TestMakeInstallUninstall(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, root, goEnvironment(t))
	prefix := filepath.Join(filepath.Dir(w.home), "prefix")
	collection := filepath.Join(w.home, ".ansible", "collections", "ansible_collections", "tokenkeeper", "vmware")
	_, galaxyErr := lookPath("ansible-galaxy", w.env)
	_, packerErr := lookPath("packer", w.env)
	if os.Getenv("CI") != "" && (galaxyErr != nil || packerErr != nil) {
		t.Fatalf("CI must check the Ansible and Packer parts too: ansible-galaxy %v, packer %v", galaxyErr, packerErr)
	}

	out := w.make(t, "install", "PREFIX="+prefix)
	for _, f := range []string{"bin/tokenkeeper", "bin/tokenkeeper-core", "bin/tokenkeeper-sim"} {
		fi, err := os.Stat(filepath.Join(prefix, f))
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s not installed as an executable: %v", f, err)
		}
	}
	if v := w.command(t, filepath.Join(prefix, "bin", "tokenkeeper"), "--version"); !strings.Contains(v, "tokenkeeper") {
		t.Errorf("installed tokenkeeper --version: %q", v)
	}
	for f, want := range map[string]string{
		"share/bash-completion/completions/tokenkeeper":    "__start_tokenkeeper",
		"share/zsh/site-functions/_tokenkeeper":            "#compdef tokenkeeper",
		"share/fish/vendor_completions.d/tokenkeeper.fish": "complete -c tokenkeeper",
	} {
		b, err := os.ReadFile(filepath.Join(prefix, f))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v, lacks %q", f, err, want)
		}
	}
	if galaxyErr == nil {
		if _, err := os.Stat(filepath.Join(collection, "MANIFEST.json")); err != nil {
			t.Errorf("the Ansible collection is not installed: %v\n%s", err, out)
		}
	} else {
		t.Logf("ansible-galaxy not on PATH: the collection is not checked")
	}
	if packerErr == nil {
		if got := w.command(t, "packer", "plugins", "installed"); !strings.Contains(got, "github.com/tokenkeeper/tokenkeeper/") {
			t.Errorf("packer plugins installed does not list the plugin: %q\n%s", got, out)
		}
	} else {
		t.Logf("packer not on PATH: the plugin is not checked")
	}

	w.make(t, "uninstall", "PREFIX="+prefix)
	if left := filesUnder(t, prefix); len(left) > 0 {
		t.Errorf("make uninstall left %q", left)
	}
	if _, err := os.Stat(collection); !os.IsNotExist(err) {
		t.Errorf("the Ansible collection is still there: %v", err)
	}
	if left := filesUnder(t, filepath.Join(w.home, ".config", "packer", "plugins")); len(left) > 0 {
		t.Errorf("the Packer plugin is still installed: %q", left)
	}
}

// make runs make in the repository root with the world's environment.
func (w *world) make(t *testing.T, args ...string) string {
	t.Helper()
	return w.command(t, "make", append([]string{"--no-print-directory", "-C", w.root}, args...)...)
}

// command runs a program with the world's environment and returns its
// output, failing the test when it fails.
func (w *world) command(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path := name
	if !filepath.IsAbs(name) {
		p, err := lookPath(name, w.env)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path = p
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir, cmd.Env, cmd.WaitDelay = w.root, w.env, 5*time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// filesUnder lists every non-directory under dir (none when dir is gone).
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}
