package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAtomicModes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		perm os.FileMode
	}{
		{"0600", 0o600},
		{"0400", 0o400},
		{"0640 when asked", 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			// An existing file with a looser mode is replaced, not reused.
			writeFile(t, dir, tt.name, "old", 0o666)
			if err := WriteFileAtomic(p, []byte(canary), tt.perm); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.perm {
				t.Fatalf("mode %04o, want %04o", fi.Mode().Perm(), tt.perm)
			}
		})
	}
	assertNoTempFiles(t, dir)
}

func TestWriteFileAtomicFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := writeFile(t, dir, "real", "old", 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced by a file (%v)", err)
	}
	if b, _ := os.ReadFile(real); string(b) != "new" {
		t.Fatalf("the link target holds %q, want %q", b, "new")
	}
}

func TestWriteFileAtomicFailureRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	// Renaming a file over a non-empty directory fails after the write.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(target, []byte(canary), 0o600); err == nil {
		t.Fatal("renaming over a non-empty directory succeeded")
	}
	assertNoTempFiles(t, dir)

	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte(canary), 0o600); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	ref := Ref{File: filepath.Join(dir, "sa")}
	for _, v := range []string{canary, canary + "-rotated", "ends with newline\n"} {
		if err := ref.Store(t.Context(), New(v)); err != nil {
			t.Fatal(err)
		}
		got, err := ref.Resolve(t.Context())
		checkErr(t, err, nil)
		if got.Reveal() != v {
			t.Fatal("the stored value does not resolve back to itself")
		}
	}
	checkErr(t, ref.Store(t.Context(), Secret{}), ErrEmpty, "file "+ref.File)
	checkErr(t, Ref{Env: "X"}.Store(t.Context(), New(canary)), ErrInvalidRef, "env X")
	err := Ref{File: filepath.Join(dir, "missing", "sa")}.Store(t.Context(), New(canary))
	if err == nil || !errors.As(err, new(*Error)) {
		t.Fatalf("storing into a missing directory: got %v, want a *secret.Error", err)
	}
	checkErr(t, err, os.ErrNotExist)
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		ref       Ref
		wantErr   error // nil: writable
		wantInMsg string
		skipRoot  bool
	}{
		{"new file", Ref{File: filepath.Join(dir, "new")}, nil, "", false},
		{"existing 0600", Ref{File: writeFile(t, dir, "ok", canary, 0o600)}, nil, "", false},
		{"existing 0644", Ref{File: writeFile(t, dir, "loose", canary, 0o644)}, ErrInsecurePermissions, "chmod 600", false},
		{"existing 0622", Ref{File: writeFile(t, dir, "writable", canary, 0o622)}, ErrInsecurePermissions, "chmod 600", false},
		{"env ref", Ref{Env: "X"}, ErrInvalidRef, "must be a file", false},
		{"missing dir", Ref{File: filepath.Join(dir, "missing", "x")}, os.ErrNotExist, "directory", false},
		{"read-only dir", Ref{File: filepath.Join(readOnly, "x")}, os.ErrPermission, "not writable", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipRoot && os.Geteuid() == 0 {
				t.Skip("root may write any directory")
			}
			err := tt.ref.CheckWritable()
			if tt.wantErr == nil {
				checkErr(t, err, nil)
				return
			}
			checkErr(t, err, tt.wantErr, tt.wantInMsg)
		})
	}
}
