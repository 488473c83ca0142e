//go:build unix

package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const watchOrig = "profiles: {}\n"

// later is a clock an hour ahead: every file on it is old enough for its
// stat to be trusted.
func later() time.Time { return time.Now().Add(time.Hour) }

func watchedFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWatchContent: a change of the bytes counts, a rewrite of the same
// bytes does not, whatever it does to the stat.
func TestWatchContent(t *testing.T) {
	tests := []struct {
		name    string
		change  func(path string) error
		changed bool
	}{
		{"untouched", func(string) error { return nil }, false},
		{"same bytes, new mtime", func(p string) error {
			l := time.Now().Add(time.Hour)
			return errors.Join(os.WriteFile(p, []byte(watchOrig), 0o600), os.Chtimes(p, l, l))
		}, false},
		{"same bytes renamed into place", func(p string) error {
			tmp := p + ".new"
			return errors.Join(os.WriteFile(tmp, []byte(watchOrig), 0o600), os.Rename(tmp, p))
		}, false},
		{"same size, other bytes", func(p string) error { return os.WriteFile(p, []byte("profiles: []\n"), 0o600) }, true},
		{"same size, other bytes, mtime restored", func(p string) error {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			return errors.Join(os.WriteFile(p, []byte("profiles: []\n"), 0o600), os.Chtimes(p, fi.ModTime(), fi.ModTime()))
		}, true},
		{"grown past the cap", func(p string) error { return os.Truncate(p, MaxFileSize+1) }, true},
		{"removed", os.Remove, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := watchedFile(t, watchOrig)
			w := newWatch(path, later())
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			for range 2 { // the answer sticks
				if got := w.changedAt(later()); got != tc.changed {
					t.Fatalf("Changed = %v, want %v", got, tc.changed)
				}
			}
		})
	}
}

// TestWatchDoesNotRereadUnchangedFile: with the stat unchanged, a call
// costs a stat, not a read and hash of the file (which may be 1 MiB, and
// is asked about before every call to the agent); a touch rereads it once.
func TestWatchDoesNotRereadUnchangedFile(t *testing.T) {
	path := watchedFile(t, watchOrig)
	w := newWatch(path, later())
	for range 100 {
		if w.changedAt(later()) {
			t.Fatal("Changed on an untouched file")
		}
	}
	if w.hashes != 1 {
		t.Fatalf("%d reads of an untouched file over 100 calls, want 1 (at the start)", w.hashes)
	}
	l := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, l, l); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if w.changedAt(later()) {
			t.Fatal("a touch counted as a change")
		}
	}
	if w.hashes != 2 {
		t.Fatalf("%d reads after a touch and 10 calls, want 2", w.hashes)
	}
}

// TestWatchOnRewrite: a rewrite of the same bytes calls the OnRewrite
// function once (the agent refreshes its names file in it, or the front
// finds the profiles file newer and hands every call to the core); an
// untouched file and a changed one do not.
func TestWatchOnRewrite(t *testing.T) {
	path := watchedFile(t, watchOrig)
	w := newWatch(path, later())
	calls := 0
	w.OnRewrite(func() { calls++ })
	for range 3 {
		w.changedAt(later())
	}
	if calls != 0 {
		t.Fatalf("%d calls for an untouched file, want 0", calls)
	}
	l := time.Now().Add(time.Minute)
	if err := errors.Join(os.WriteFile(path, []byte(watchOrig), 0o600), os.Chtimes(path, l, l)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if w.changedAt(later()) {
			t.Fatal("a rewrite of the same bytes counted as a change")
		}
	}
	if calls != 1 {
		t.Fatalf("%d calls after one rewrite of the same bytes, want 1", calls)
	}
	if err := os.WriteFile(path, []byte("profiles: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !w.changedAt(later()) || calls != 1 {
		t.Fatalf("after a change: %d calls, want still 1 and Changed", calls)
	}
}

// TestWatchRacyWrite: a same-size write within one timestamp tick of the
// hash can leave the whole stat as it was (a coarse clock). A file that
// young is hashed at every call, so the write is still seen; only a file
// older than the racy window is trusted by its stat.
func TestWatchRacyWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		now  func() time.Time
		want bool
	}{
		{"written just now", time.Now, true},
		{"written long ago", later, false}, // the stat is trusted: what a coarse clock could hide stays hidden
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := watchedFile(t, watchOrig)
			w := newWatch(path, tc.now())
			if err := os.WriteFile(path, []byte("profiles: []\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			w.seen = idOf(fi) // as if both writes fell into one tick
			if got := w.changedAt(tc.now()); got != tc.want {
				t.Fatalf("Changed = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkWatchChanged: the agent's check before every call on a 1 MiB
// profiles file: a stat, where it used to read and hash the file.
func BenchmarkWatchChanged(b *testing.B) {
	path := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileSize), 0o600); err != nil {
		b.Fatal(err)
	}
	w := newWatch(path, later())
	for b.Loop() {
		if w.changedAt(later()) {
			b.Fatal("changed")
		}
	}
	b.ReportMetric(float64(w.hashes), "hashes")
}

// BenchmarkWatchRehash is what every call cost before: a read and hash of
// the 1 MiB file.
func BenchmarkWatchRehash(b *testing.B) {
	path := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileSize), 0o600); err != nil {
		b.Fatal(err)
	}
	w := newWatch(path, later())
	for b.Loop() {
		if _, _, err := w.read(); err != nil {
			b.Fatal(err)
		}
	}
}
