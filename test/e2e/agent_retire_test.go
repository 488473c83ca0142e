package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// rewriteConfig replaces the profiles file the way editors and config
// tools do (a new file renamed over the old), with content that differs:
// the running agent retires at its next call.
func rewriteConfig(t testing.TB, path, content string) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".config-*")
	if err != nil {
		t.Error(err)
		return
	}
	tmp := f.Name()
	_ = f.Close()
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Error(err)
	}
}

// TestGetBurstSurvivesConfigRewrites: 200 gets, 50 at a time, while the
// profiles file is rewritten twice. Each rewrite retires the
// agent mid-burst: the get that meets "this agent is exiting" (or the
// connection a retiring agent drops) runs once more on the agent that
// takes over, whoever starts it, so no get fails.
func TestGetBurstSurvivesConfigRewrites(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	cfg := vcfConfig(s, e2eUser, "{env: TK_E2E_PW}")
	tk := newTK(t, cfg, pwEnv)
	if r := tk.run(t, nil, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("first get: exit %d: %s", r.code, r.stderr)
	}
	const gets, workers, every = 200, 50, 100
	var next, failed atomic.Int32
	var mu sync.Mutex // guards firstErr
	firstErr := ""
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > gets {
					return
				}
				if i%every == every/2 {
					rewriteConfig(t, tk.config, fmt.Sprintf("# rewrite %d\n%s", i, cfg))
				}
				if r := tk.run(t, nil, "get", "--profile", "sddc", "--format", "token"); r.code != 0 || r.stdout == "" {
					failed.Add(1)
					mu.Lock()
					if firstErr == "" {
						firstErr = fmt.Sprintf("get %d: exit %d: %s", i, r.code, r.stderr)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d gets failed during %d rewrites; first: %s", n, gets, gets/every, firstErr)
	}
	if st := s.Stats(t); st.Logins < 2 {
		t.Errorf("%d logins: the rewrites did not retire the agent, the test proves nothing", st.Logins)
	}
}
