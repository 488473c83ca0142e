package agent

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// LogWriter writes to stderr and, when stderr is the agent's log file
// (a detached agent), rotates that log once it outgrows max: the log is
// renamed to <log>.1 and a new log is put in place of stderr, so the
// logger and the Go runtime (a panic) both write to the new one.
type LogWriter struct {
	p   paths.Agent
	max int64

	mu   sync.Mutex // guards size and ours
	size int64      // bytes in the current log
	ours bool       // stderr is p.Log
}

// NewLogWriter returns the writer of agent p's log (see LogWriter).
func NewLogWriter(p paths.Agent, max int64) *LogWriter {
	w := &LogWriter{p: p, max: max}
	var st unix.Stat_t
	if unix.Fstat(int(os.Stderr.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		now, err := p.Dir.Lstat(filepath.Base(p.Log))
		w.ours = err == nil && now.Ino == st.Ino && now.Dev == st.Dev
		w.size = st.Size
	}
	return w
}

// Write writes b to stderr, rotating first if the log is full.
func (w *LogWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ours && w.size+int64(len(b)) > w.max {
		if err := w.rotateLocked(); err != nil {
			w.ours = false // keep writing where we are; never lose a line
		}
	}
	n, err := os.Stderr.Write(b)
	w.size += int64(n)
	return n, err
}

func (w *LogWriter) rotateLocked() error {
	name := filepath.Base(w.p.Log)
	if err := w.p.Dir.Rename(name, name+".1"); err != nil {
		return err
	}
	f, err := w.p.Dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := replaceStderr(f); err != nil {
		return errors.Join(err, w.p.Dir.Remove(name))
	}
	w.size = 0
	return nil
}
