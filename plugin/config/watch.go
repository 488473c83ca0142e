package config

import (
	"crypto/sha256"
	"io"
	"os"
	"sync"
	"time"
)

// racyWindow is how long after a write the file's stat cannot vouch for
// its content: timestamps are coarse (a kernel tick, or seconds on some
// file systems), so a second write of the same size within one tick can
// leave size, times and inode as they were. Until the file is older than
// this, Changed hashes it on every call (git's "racy clean" rule).
const racyWindow = 2 * time.Second

// Watch reports whether a profiles file still holds the bytes it held when
// the watch began. It is what retires an agent whose file was edited.
// Each call costs one stat; the file is read and hashed (SHA-256) only
// when the stat differs from the last one, or the file was written just
// before it was hashed. A tool that rewrites the same bytes (a template
// re-rendered, a checkout, a touch) changes the stat but not the hash, so
// it does not count as a change.
type Watch struct {
	path string

	mu sync.Mutex // guards the fields below
	// sum is the hash of the content when the watch began.
	sum [sha256.Size]byte
	// seen is the stat under which the content last hashed to sum;
	// trusted says it was taken long enough after the last write to
	// stand for the content.
	seen    fileID
	trusted bool
	// changed sticks once the content differed: an edit and its undo
	// still mean the agent served something else in between.
	changed bool
	// hashes counts the reads, for tests.
	hashes int
	// onRewrite, if set, is called after Changed found the same bytes
	// under a new stat (OnRewrite).
	onRewrite func()
}

// fileID is what a stat says about a file's identity and content.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds
}

// NewWatch hashes the file at path now. An unreadable file counts as
// changed at every later call.
func NewWatch(path string) *Watch { return newWatch(path, time.Now()) }

// newWatch is NewWatch at now, the wall-clock time the file system's
// timestamps are compared with. Tests pass it rather than run in a
// testing/synctest bubble: the bubble's clock does not move the file
// system's.
func newWatch(path string, now time.Time) *Watch {
	w := &Watch{path: path}
	id, sum, err := w.read()
	if err != nil {
		w.changed = true
		return w
	}
	w.sum = sum
	w.remember(id, now)
	return w
}

// OnRewrite sets f to be called, by the Changed that noticed, once each
// time the file is found rewritten with the same bytes (a new stat, the
// same hash). What compares its own files' times with the file's (the
// agent's names file, which the front trusts only if no older than the
// profiles file) refreshes them in f.
func (w *Watch) OnRewrite(f func()) {
	w.mu.Lock()
	w.onRewrite = f
	w.mu.Unlock()
}

// Changed reports whether the file no longer holds the bytes it held when
// the watch began (or cannot be read, or grew past MaxFileSize).
func (w *Watch) Changed() bool { return w.changedAt(time.Now()) }

// changedAt is Changed at now (see newWatch).
func (w *Watch) changedAt(now time.Time) bool {
	changed, rewritten := w.check(now)
	if rewritten != nil {
		rewritten() // outside the lock: it may be slow, and may ask again
	}
	return changed
}

// check is changedAt under the lock; rewritten is the OnRewrite function
// to call when the file was rewritten with the same bytes.
func (w *Watch) check(now time.Time) (changed bool, rewritten func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.changed {
		return true, nil
	}
	fi, err := os.Stat(w.path)
	if err != nil {
		w.changed = true
		return true, nil
	}
	if w.trusted && idOf(fi) == w.seen {
		return false, nil
	}
	id, sum, err := w.read()
	if err != nil || sum != w.sum {
		w.changed = true
		return true, nil
	}
	if id != w.seen {
		rewritten = w.onRewrite
	}
	w.remember(id, now)
	return false, rewritten
}

// remember records id as the stat the content hashed under at now.
func (w *Watch) remember(id fileID, now time.Time) {
	w.seen = id
	w.trusted = now.UnixNano()-max(id.mtime, id.ctime) > int64(racyWindow)
}

// read hashes the file, with the stat of the opened descriptor taken
// before reading it: a write racing the read then shows as a newer stat
// at the next call.
func (w *Watch) read() (fileID, [sha256.Size]byte, error) {
	w.hashes++
	f, err := os.Open(w.path)
	if err != nil {
		return fileID{}, [sha256.Size]byte{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileID{}, [sha256.Size]byte{}, err
	}
	if fi.Size() > MaxFileSize {
		return fileID{}, [sha256.Size]byte{}, ErrTooLarge
	}
	h := sha256.New()
	if n, err := io.Copy(h, io.LimitReader(f, MaxFileSize+1)); err != nil {
		return fileID{}, [sha256.Size]byte{}, err
	} else if n > MaxFileSize {
		return fileID{}, [sha256.Size]byte{}, ErrTooLarge
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return idOf(fi), sum, nil
}
