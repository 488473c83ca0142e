package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// TestCleanStale: the files of dead agents go; those of an agent whose
// run lock is held (running) or whose spawn lock is held (being started),
// and the caller's own, stay — and their locks keep working.
func TestCleanStale(t *testing.T) {
	root := shortRoot(t)
	self, _ := paths.Locate(root, "/self.yaml", "")
	dead, _ := paths.Locate(root, "/dead.yaml", "00112233aabbccdd")
	running, _ := paths.Locate(root, "/running.yaml", "")
	starting, _ := paths.Locate(root, "/starting.yaml", "")
	for _, p := range []paths.Agent{self, dead, running, starting} {
		for _, f := range []string{p.Socket, p.Exec, p.Log, p.Log + ".1", p.Run, p.Spawn} {
			mustDo(t, os.WriteFile(f, []byte("x"), 0o600))
		}
	}
	mustDo(t, os.WriteFile(dead.Names, []byte("PW\n"), 0o600))
	runLock, err := root.TryLock(filepath.Base(running.Run))
	mustDo(t, err)
	defer func() { mustDo(t, runLock.Unlock()) }()
	spawnLock, err := root.TryLock(filepath.Base(starting.Spawn))
	mustDo(t, err)
	defer func() { mustDo(t, spawnLock.Unlock()) }()
	oldTemp := root.Join(".guard.json.tmp-0123")
	mustDo(t, os.WriteFile(oldTemp, nil, 0o600))
	mustDo(t, os.Chtimes(oldTemp, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)))

	cleaned := CleanStale(root, self, time.Now())
	if want := []string{filepath.Base(dead.Socket[:len(dead.Socket)-len(".sock")])}; !slices.Equal(cleaned, want) {
		t.Fatalf("cleaned %v, want %v", cleaned, want)
	}
	for _, f := range []string{dead.Socket, dead.Exec, dead.Log, dead.Log + ".1", dead.Run, dead.Spawn, oldTemp} {
		if _, err := os.Lstat(f); !os.IsNotExist(err) {
			t.Errorf("%s of a dead agent left: %v", f, err)
		}
	}
	for _, p := range []paths.Agent{self, running, starting} {
		for _, f := range []string{p.Socket, p.Exec, p.Log, p.Run, p.Spawn} {
			if _, err := os.Lstat(f); err != nil {
				t.Errorf("%s of a live agent removed: %v", f, err)
			}
		}
	}
	if _, err := os.Lstat(dead.Names); err != nil {
		t.Errorf("the names file hosts read was removed: %v", err)
	}
	if _, err := root.TryLock(filepath.Base(running.Run)); err != paths.ErrLocked {
		t.Errorf("the running agent's lock no longer excludes: %v", err)
	}
}
