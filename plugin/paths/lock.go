package paths

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked: TryLock found the lock held by someone else.
var ErrLocked = errors.New("lock is held")

// FileLock is an exclusive flock(2) on a file of a Dir. The kernel
// releases it when the holder dies, so a crashed agent or client never
// leaves a stale lock. Locks are per open file, so two FileLocks on one
// name conflict even inside one process.
type FileLock struct {
	mu sync.Mutex // guards f: a gRPC server and its owner may both close a Socket
	f  *os.File
}

// maxLockRetries bounds how often TryLock starts over because the file it
// locked was removed (or replaced) meanwhile.
const maxLockRetries = 10

// TryLock takes the lock name in d without waiting; ErrLocked when held.
// The file is created 0600 when missing, never through a symlink. A lock
// counts only if its file still bears the name once locked, so that a
// lock file removed by its holder (see RemoveLocked) is never held by two.
func (d *Dir) TryLock(name string) (*FileLock, error) {
	for range maxLockRetries {
		f, err := d.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("could not open lock file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			_ = f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, ErrLocked
			}
			return nil, fmt.Errorf("could not lock %s: %w", d.Join(name), err)
		}
		if d.stillNamed(f, name) {
			return &FileLock{f: f}, nil
		}
		_ = f.Close() // removed while we waited: lock the new file
	}
	return nil, fmt.Errorf("could not lock %s: it keeps being replaced", d.Join(name))
}

// stillNamed reports whether f is the file name now names in d.
func (d *Dir) stillNamed(f *os.File, name string) bool {
	var held unix.Stat_t
	if unix.Fstat(int(f.Fd()), &held) != nil {
		return false
	}
	now, err := d.Lstat(name)
	return err == nil && now.Ino == held.Ino && now.Dev == held.Dev
}

// Lock waits until it holds the lock name in d or ctx ends. It polls
// rather than blocking in flock so that a deadline is honoured.
func (d *Dir) Lock(ctx context.Context, name string) (*FileLock, error) {
	wait := 2 * time.Millisecond
	for {
		l, err := d.TryLock(name)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("could not lock %s: %w", d.Join(name), ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// RemoveLocked removes the lock file name while l holds it, then releases
// l: whoever waits for it finds the name gone and starts over (TryLock).
func (d *Dir) RemoveLocked(l *FileLock, name string) error {
	err := d.Remove(name)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, l.Unlock())
}

// Unlock releases the lock. It is safe to call more than once, also
// concurrently.
func (l *FileLock) Unlock() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
	return err
}
