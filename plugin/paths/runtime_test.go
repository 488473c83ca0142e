package paths

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// mkdir makes dir with exactly mode (no umask).
func mkdir(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openRT(t *testing.T, m map[string]string) (string, error) {
	t.Helper()
	d, err := OpenRuntimeDir(env(m))
	if err != nil {
		return "", err
	}
	defer d.Close()
	fi, err := os.Lstat(d.Path())
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("runtime dir %s: %v, %v; want a 0700 directory", d.Path(), fi.Mode(), err)
	}
	return d.Path(), nil
}

// TestRuntimeDirXDG: XDG_RUNTIME_DIR must be the user's (or root's) and
// writable by no one else; the path to it may go through links only
// where no one else could have planted them.
func TestRuntimeDirXDG(t *testing.T) {
	base := mkdir(t, t.TempDir(), 0o700)
	xdg := mkdir(t, filepath.Join(base, "xdg"), 0o700)
	if got, err := openRT(t, map[string]string{"XDG_RUNTIME_DIR": xdg}); err != nil || got != filepath.Join(xdg, "tokenkeeper") {
		t.Fatalf("OpenRuntimeDir = %s, %v", got, err)
	}
	// Through a link in a directory only we can write: fine.
	if err := os.Symlink(xdg, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := openRT(t, map[string]string{"XDG_RUNTIME_DIR": filepath.Join(base, "link")}); err != nil {
		t.Fatalf("through a trusted link: %v", err)
	}
	// Through a directory others may write: someone could swap the link.
	open := mkdir(t, filepath.Join(base, "open"), 0o777)
	if err := os.Symlink(xdg, filepath.Join(open, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := openRT(t, map[string]string{"XDG_RUNTIME_DIR": filepath.Join(open, "link")}); !errors.Is(err, ErrInsecureDir) {
		t.Fatalf("through a world-writable directory: %v, want ErrInsecureDir", err)
	}
	// A sticky directory (like /tmp) holding our own entry: fine.
	sticky := mkdir(t, filepath.Join(base, "sticky"), 0o777|os.ModeSticky)
	ours := mkdir(t, filepath.Join(sticky, "ours"), 0o700)
	if _, err := openRT(t, map[string]string{"XDG_RUNTIME_DIR": ours}); err != nil {
		t.Fatalf("our own directory in a sticky one: %v", err)
	}
	// XDG_RUNTIME_DIR writable by the group: refused, with the fix.
	shared := mkdir(t, filepath.Join(base, "shared"), 0o770)
	if _, err := openRT(t, map[string]string{"XDG_RUNTIME_DIR": shared}); !errors.Is(err, ErrInsecureDir) ||
		!strings.Contains(err.Error(), "chmod go-w "+shared) {
		t.Fatalf("group-writable XDG_RUNTIME_DIR: %v, want ErrInsecureDir with the chmod", err)
	}
}

// TestRuntimeDirNotHijacked (issue 9 case 3): without XDG_RUNTIME_DIR the
// directory is not one another local user can create first. A shared
// temp dir is not used; the home cache is, made 0700 level by level.
func TestRuntimeDirNotHijacked(t *testing.T) {
	base := mkdir(t, t.TempDir(), 0o700)
	shared := mkdir(t, filepath.Join(base, "tmp"), 0o777|os.ModeSticky)
	home := mkdir(t, filepath.Join(base, "home"), 0o755)
	uid := strconv.Itoa(os.Getuid())
	if os.Getuid() == 0 {
		// Another user squats every name a shared temp dir could offer.
		for _, n := range []string{"tokenkeeper", "tokenkeeper-" + uid} {
			mkdir(t, filepath.Join(shared, n), 0o755)
			if err := os.Chown(filepath.Join(shared, n), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := openRT(t, map[string]string{"TMPDIR": shared, "HOME": home})
	want := filepath.Join(home, ".cache", "tokenkeeper", "run-"+hostTag())
	if err != nil || got != want {
		t.Fatalf("OpenRuntimeDir = %s, %v; want %s", got, err, want)
	}
	if got != FallbackDir(env(map[string]string{"HOME": home})) {
		t.Fatalf("FallbackDir disagrees: %s", FallbackDir(env(map[string]string{"HOME": home})))
	}
	for _, d := range []string{filepath.Join(home, ".cache"), filepath.Join(home, ".cache", "tokenkeeper")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v, %v; want 0700", d, fi.Mode(), err)
		}
	}
	// A TMPDIR of the user's own (macOS) is used.
	own := mkdir(t, filepath.Join(base, "own-tmp"), 0o700)
	if got, err := openRT(t, map[string]string{"TMPDIR": own, "HOME": home}); err != nil || got != filepath.Join(own, "tokenkeeper") {
		t.Fatalf("own TMPDIR: %s, %v", got, err)
	}
	if _, err := OpenRuntimeDir(env(map[string]string{"TMPDIR": shared})); !errors.Is(err, ErrNoRuntimeDir) {
		t.Fatalf("no HOME, shared TMPDIR: %v, want ErrNoRuntimeDir", err)
	}
}

// TestRuntimeDirHostileReported: an existing directory that is not
// private is refused with the command that fixes it.
func TestRuntimeDirHostileReported(t *testing.T) {
	home := mkdir(t, filepath.Join(t.TempDir(), "home"), 0o700)
	rt := FallbackDir(env(map[string]string{"HOME": home}))
	mkdir(t, rt, 0o755)
	if _, err := OpenRuntimeDir(env(map[string]string{"HOME": home})); !errors.Is(err, ErrInsecureDir) ||
		!strings.Contains(err.Error(), "chmod 700 "+rt) {
		t.Fatalf("0755 runtime dir: %v, want the chmod", err)
	}
	if err := os.Remove(rt); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), rt); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRuntimeDir(env(map[string]string{"HOME": home})); !errors.Is(err, ErrInsecureDir) ||
		!strings.Contains(err.Error(), "mv "+rt) {
		t.Fatalf("a symlink: %v, want the mv", err)
	}
	if os.Getuid() != 0 {
		return
	}
	if err := os.Remove(rt); err != nil {
		t.Fatal(err)
	}
	mkdir(t, rt, 0o700)
	if err := os.Chown(rt, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRuntimeDir(env(map[string]string{"HOME": home})); !errors.Is(err, ErrInsecureDir) ||
		!strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("another user's: %v", err)
	}
}

// TestRuntimeDirThroughLinks: the walk follows trusted links anywhere on
// the path, absolute or relative, chained, and goes on with the rest of
// the path after each; a link in a directory others can write is
// refused wherever it is.
func TestRuntimeDirThroughLinks(t *testing.T) {
	base := mkdir(t, t.TempDir(), 0o700)
	xdg := mkdir(t, filepath.Join(base, "real", "a", "xdg"), 0o700)
	links := map[string]string{
		"abs": filepath.Join(base, "real"), // absolute, mid-path
		"rel": "real/a",                    // relative, mid-path
		"two": "rel",                       // a link to a link
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []string{filepath.Join(base, "abs", "a", "xdg"), filepath.Join(base, "rel", "xdg"), filepath.Join(base, "two", "xdg")} {
		got, err := openRT(t, map[string]string{"XDG_RUNTIME_DIR": x})
		if err != nil || got != filepath.Join(x, "tokenkeeper") {
			t.Errorf("XDG_RUNTIME_DIR=%s: %s, %v", x, got, err)
		}
		if fi, err := os.Stat(filepath.Join(xdg, "tokenkeeper")); err != nil || !fi.IsDir() {
			t.Errorf("XDG_RUNTIME_DIR=%s: the directory was not made in %s: %v", x, xdg, err)
		}
	}
	open := mkdir(t, filepath.Join(base, "open"), 0o777)
	if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(open, "mid")); err != nil {
		t.Fatal(err)
	}
	if _, err := openRT(t, map[string]string{"XDG_RUNTIME_DIR": filepath.Join(open, "mid", "a", "xdg")}); !errors.Is(err, ErrInsecureDir) {
		t.Fatalf("a link mid-path in a world-writable directory: %v, want ErrInsecureDir", err)
	}
}

// TestRuntimeDirTMPDIRHostileReported: a TMPDIR that is the user's own
// is used, and a hostile tokenkeeper entry in it is reported, not
// silently replaced by the cache home's directory.
func TestRuntimeDirTMPDIRHostileReported(t *testing.T) {
	base := mkdir(t, t.TempDir(), 0o700)
	tmp := mkdir(t, filepath.Join(base, "tmp"), 0o700)
	m := map[string]string{"TMPDIR": tmp, "HOME": mkdir(t, filepath.Join(base, "home"), 0o700)}
	if got, err := openRT(t, m); err != nil || got != filepath.Join(tmp, "tokenkeeper") {
		t.Fatalf("own TMPDIR: %s, %v", got, err)
	}
	if err := os.Remove(filepath.Join(tmp, "tokenkeeper")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "tokenkeeper"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := openRT(t, m); !errors.Is(err, ErrInsecureDir) {
		t.Fatalf("a file in TMPDIR's place: %s, %v; want ErrInsecureDir", got, err)
	}
}
