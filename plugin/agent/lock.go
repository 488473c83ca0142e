package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// ErrLocked: TryLock found the lock held by someone else.
var ErrLocked = paths.ErrLocked

// FileLock is an exclusive flock(2) on a file at a path of the caller's
// choosing, outside the runtime directory (files in the runtime directory
// are locked relative to it: paths.Dir.Lock). The kernel releases it when
// the holder dies, so a crashed agent or client never leaves a stale lock.
// Locks are per open file, so two FileLocks on one path conflict even
// inside one process.
type FileLock struct {
	f *os.File
}

// TryLock takes the lock at path without waiting; ErrLocked when held.
func TryLock(path string) (*FileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("could not open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("could not lock %s: %w", path, err)
	}
	return &FileLock{f: f}, nil
}

// Lock waits until it holds the lock at path or ctx ends. It polls rather
// than blocking in flock so that a deadline is honoured.
func Lock(ctx context.Context, path string) (*FileLock, error) {
	wait := 2 * time.Millisecond
	for {
		l, err := TryLock(path)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("could not lock %s: %w", path, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// Unlock releases the lock. It is safe to call more than once.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
	return err
}
