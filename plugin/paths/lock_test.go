package paths

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

// A Socket is closed both by the gRPC server that served it and by its
// owner; under -race two concurrent Unlocks of one lock must not race.
func privateDir(t *testing.T) *Dir {
	t.Helper()
	root := t.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// One holder at a time; Lock waits for the holder or the deadline;
// Unlock twice is harmless.
func TestLockExcludes(t *testing.T) {
	d := privateDir(t)
	a, err := d.TryLock("l")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.TryLock("l"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock: %v, want ErrLocked", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := d.Lock(ctx, "l"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held: %v", err)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	b, err := d.Lock(context.Background(), "l")
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Unlock()
}

func TestUnlockConcurrently(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	l, err := d.TryLock("run.lock")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := l.Unlock(); err != nil {
				t.Errorf("Unlock: %v", err)
			}
		})
	}
	wg.Wait()
	again, err := d.TryLock("run.lock")
	if err != nil {
		t.Fatalf("the lock was not released: %v", err)
	}
	_ = again.Unlock()
}
