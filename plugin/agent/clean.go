package agent

import (
	"errors"
	"os"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// agentSuffixes are the kinds of file an agent has in the runtime
// directory (see paths.Agent), besides the names file, which every agent
// of a configuration shares and hosts read.
var agentSuffixes = []string{".sock", ".exec", ".run.lock", ".spawn.lock", ".log", ".log.1"}

// staleTemp is the age beyond which a temporary file (of an atomic write
// or a bind, see paths.Dir) counts as left behind by a crashed process.
const staleTemp = 10 * time.Minute

// CleanStale removes what dead agents left in the runtime directory —
// their sockets, logs and locks — and temporary files older than ten
// minutes, and returns the agent names it cleaned. An agent counts as dead
// when nobody holds its run lock nor its spawn lock (no client is starting
// it); both are taken before anything is removed and the lock files are
// removed while held (paths.Dir.RemoveLocked), so a lock someone holds is
// never touched and a waiter never ends up holding a removed file. self is
// the caller's own agent, never cleaned. now stamps the temporary files'
// age.
func CleanStale(dir *paths.Dir, self paths.Agent, now time.Time) []string {
	names, err := dir.Names()
	if err != nil {
		return nil
	}
	own := agentBase(strings.TrimPrefix(self.Socket, dir.Path()+"/"))
	var cleaned []string
	seen := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			removeOldTemp(dir, n, now)
			continue
		}
		base := agentBase(n)
		if base == "" || base == own || seen[base] {
			continue
		}
		seen[base] = true
		if cleanAgent(dir, base) {
			cleaned = append(cleaned, base)
		}
	}
	return cleaned
}

// agentBase is the agent a file name belongs to ("agent-<hash>[-<tag>]"),
// or "" for any other file.
func agentBase(name string) string {
	if !strings.HasPrefix(name, paths.AgentPrefix) {
		return ""
	}
	for _, s := range agentSuffixes {
		if b, ok := strings.CutSuffix(name, s); ok {
			return b
		}
	}
	return ""
}

// cleanAgent removes the files of the agent base if it is dead (see
// CleanStale) and reports whether it did.
func cleanAgent(dir *paths.Dir, base string) bool {
	spawn, err := dir.TryLock(base + ".spawn.lock")
	if err != nil {
		return false
	}
	run, err := dir.TryLock(base + ".run.lock")
	if err != nil {
		_ = spawn.Unlock()
		return false
	}
	for _, s := range []string{".sock", ".exec", ".log", ".log.1"} {
		if err := dir.Remove(base + s); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = run.Unlock()
			_ = spawn.Unlock()
			return false
		}
	}
	_ = dir.RemoveLocked(run, base+".run.lock")
	_ = dir.RemoveLocked(spawn, base+".spawn.lock")
	return true
}

// removeOldTemp removes the temporary file name (".<file>.tmp-…" or a
// socket's ".<name>-…") once it is older than staleTemp.
func removeOldTemp(dir *paths.Dir, name string, now time.Time) {
	if !strings.Contains(name, ".tmp-") && !strings.Contains(name, ".sock-") {
		return
	}
	st, err := dir.Lstat(name)
	if err != nil || now.Sub(time.Unix(st.Mtim.Unix())) < staleTemp {
		return
	}
	_ = dir.Remove(name)
}
