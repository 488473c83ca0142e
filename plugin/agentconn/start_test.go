package agentconn

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// TestEnsureRace: many callers find no agent at once; exactly one spawns.
func TestEnsureRace(t *testing.T) {
	dir := shortRoot(t)
	p, _ := paths.Locate(dir, "/c.yaml", "")
	var spawns atomic.Int32
	var up atomic.Bool
	s := Starter{
		Paths: p,
		Probe: func(context.Context) error {
			if up.Load() {
				return nil
			}
			return errors.New("no agent")
		},
		Spawn: func() (<-chan error, error) {
			spawns.Add(1)
			go func() { time.Sleep(20 * time.Millisecond); up.Store(true) }()
			return make(chan error), nil
		},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() { errs <- s.Ensure(context.Background()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := spawns.Load(); n != 1 {
		t.Fatalf("%d agents spawned, want 1", n)
	}
}

func TestEnsureAgentExits(t *testing.T) {
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	s := Starter{
		Paths: p,
		Probe: func(context.Context) error { return errors.New("no agent") },
		Spawn: func() (<-chan error, error) {
			ch := make(chan error, 1)
			ch <- errors.New("exit status 2")
			return ch, nil
		},
	}
	err := s.Ensure(context.Background())
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("err = %v", err)
	}
}

func TestSpawnDetached(t *testing.T) {
	p, _ := paths.Locate(shortRoot(t), "/c.yaml", "")
	log := p.Log
	if err := os.WriteFile(log, make([]byte, paths.MaxLogSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	exited, err := SpawnDetached("/bin/sh", []string{"-c", "echo to-stderr >&2; echo to-stdout; test -z \"$X\" || exit 3"},
		[]string{"X=1"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("child: %v, want exit status 3 (env passed)", err)
	}
	b, err := os.ReadFile(log)
	if err != nil || string(b) != "to-stderr\n" {
		t.Fatalf("log = %q, %v: want only stderr in a fresh log", b, err)
	}
	if fi, err := os.Stat(log + ".1"); err != nil || fi.Size() != paths.MaxLogSize+1 {
		t.Fatalf("previous log not kept: %v", err)
	}
}

// shortRoot is a private temp dir, opened as a runtime directory, whose
// socket paths stay under the 108-byte limit.
func shortRoot(t *testing.T) *paths.Dir {
	dir, err := os.MkdirTemp("", "tkc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d, err := paths.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}
