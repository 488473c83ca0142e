//go:build linux

package secret

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/run/secrets/robot`:        "/run/secrets/robot",
		`/mnt/my\040dir/robot`:      "/mnt/my dir/robot",
		`/mnt/tab\011x/back\134s`:   "/mnt/tab\tx/back\\s",
		`/mnt/trailing\04`:          `/mnt/trailing\04`,
		`/mnt/not\999octal/robot\1`: `/mnt/not\999octal/robot\1`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckStorableFaults runs the preflight against the real conditions
// that make a rename fail, where this machine allows creating them.
func TestCheckStorableFaults(t *testing.T) {
	t.Run("mount point", func(t *testing.T) {
		r, path := rotationFixture(t, "sa-old")
		host := filepath.Join(t.TempDir(), "host-robot")
		if err := os.WriteFile(host, []byte("sa-old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		privileged(t, "mount", "--bind", host, path)
		t.Cleanup(func() { _ = exec.Command("umount", path).Run() })
		assertCannotStore(t, r, "mount point", "mount the directory")
		if !listedMountPoint(path) {
			t.Fatal("/proc/self/mountinfo does not list the bind mount")
		}
	})
	t.Run("immutable", func(t *testing.T) {
		r, path := rotationFixture(t, "sa-old")
		privileged(t, "chattr", "+i", path)
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
		assertCannotStore(t, r, "immutable", "chattr -i")
	})
	t.Run("append-only directory", func(t *testing.T) {
		r, path := rotationFixture(t, "sa-old")
		privileged(t, "chattr", "+a", filepath.Dir(path))
		t.Cleanup(func() { _ = exec.Command("chattr", "-a", filepath.Dir(path)).Run() })
		assertCannotStore(t, r, "append-only", "chattr -a")
	})
	t.Run("full filesystem", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "small")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		privileged(t, "mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir)
		t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
		path := filepath.Join(dir, "robot")
		if err := os.WriteFile(path, []byte("sa-old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fill(t, dir)
		assertCannotStore(t, Ref{File: path}, "full", "free some space")
	})
	t.Run("read-only filesystem", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		privileged(t, "mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir)
		t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
		path := filepath.Join(dir, "robot")
		if err := os.WriteFile(path, []byte("sa-old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		privileged(t, "mount", "-o", "remount,ro", dir)
		if err := checkStorable(path, dir); !errors.Is(err, ErrCannotStore) || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("checkStorable: %v", err)
		}
	})
}

// fill writes a file in dir until the filesystem is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for range 1 << 16 {
		if _, err := f.Write(chunk); err != nil {
			return
		}
	}
	t.Fatal("the filesystem never filled up")
}
