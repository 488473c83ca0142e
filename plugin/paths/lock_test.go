package paths

import (
	"os"
	"sync"
	"testing"
)

// A Socket is closed both by the gRPC server that served it and by its
// owner; under -race two concurrent Unlocks of one lock must not race.
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
