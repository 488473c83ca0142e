package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// prepare creates the temporary file beside the target, reserves
// reserveBytes in it and fsyncs it: proof, before the exchange, that the
// rotated value has a place to go.
func (rt *Rotation) prepare() error {
	f, err := reserveTemp(rt.dir, filepath.Base(rt.real))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotStore, err)
	}
	rt.tmp = f
	return nil
}

// reserveTemp creates a 0600 temporary file in dir, fills it with
// reserveBytes of zeros and fsyncs it.
func reserveTemp(dir, base string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("could not create a temporary file beside %s: %w", base, err)
	}
	if _, err = f.Write(make([]byte, reserveBytes)); err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("could not reserve space for the rotated token in %s: %w", dir, err)
	}
	return f, nil
}

// fill writes v into the prepared temporary file over the reserved blocks
// and fsyncs it: from here on the value survives a crash.
func (rt *Rotation) fill(v Secret) error {
	if rt.tmp == nil {
		if err := rt.prepare(); err != nil {
			return err
		}
	}
	data := []byte(v.Reveal() + "\n")
	if _, err := rt.tmp.WriteAt(data, 0); err != nil {
		return fmt.Errorf("could not write temporary file: %w", err)
	}
	if err := rt.tmp.Truncate(int64(len(data))); err != nil {
		return fmt.Errorf("could not truncate temporary file: %w", err)
	}
	if err := rt.tmp.Sync(); err != nil {
		return fmt.Errorf("could not sync temporary file: %w", err)
	}
	return nil
}

// replaceRetrying renames the filled temporary file over the target,
// retrying for RetryFor within ctx, and fsyncs the directory.
func (rt *Rotation) replaceRetrying(ctx context.Context) error {
	deadline := time.Now().Add(rt.opts.RetryFor)
	wait := 50 * time.Millisecond
	for {
		err := os.Rename(rt.tmp.Name(), rt.real)
		if err == nil {
			_ = rt.tmp.Close()
			rt.tmp = nil
			if err := syncDir(rt.dir); err != nil {
				return fmt.Errorf("file replaced, but could not sync its directory: %w", err)
			}
			return nil
		}
		if !time.Now().Add(wait).Before(deadline) {
			return fmt.Errorf("could not replace file: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("could not replace file: %w", err)
		case <-t.C:
		}
		wait = min(wait*2, time.Second)
	}
}

// rescue saves v, which could not be stored because of cause, to a 0600
// recovery file: the filled temporary file renamed next to the target (no
// new space needed), else a fresh file there, else one in the fallback
// directory. A recovery file holding another value is never replaced.
func (rt *Rotation) rescue(v Secret, cause error) error {
	ns := &NotStoredError{Target: rt.real, Err: cause}
	rec := RecoveryPath(rt.real)
	if !vacant(rec, v) {
		rec = ""
	}
	if rec != "" && rt.tmp != nil && rt.fill(v) == nil && os.Rename(rt.tmp.Name(), rec) == nil {
		_ = rt.tmp.Close()
		rt.tmp = nil
		_ = syncDir(rt.dir)
		ns.Recovery = rec
		return ns
	}
	data := []byte(v.Reveal() + "\n")
	if rec != "" && WriteFileAtomic(rec, data, 0o600) == nil {
		ns.Recovery = rec
		return ns
	}
	if fb := rt.fallbackPath(); fb != "" && vacant(fb, v) {
		if os.MkdirAll(filepath.Dir(fb), 0o700) == nil && WriteFileAtomic(fb, data, 0o600) == nil {
			ns.Recovery = fb
		}
	}
	return ns
}

// vacant reports whether a recovery file for v may be written at path:
// there is none, or it holds v already.
func vacant(path string, v Secret) bool {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return true
	}
	got, ok := readTrimmed(path)
	return ok && got.Equal(v)
}

// keepOwn is the error of Own still not stored because of cause: it names
// the recovery file that already holds Own, else writes one.
func (rt *Rotation) keepOwn(cause error) error {
	for _, rec := range rt.recoveryPaths() {
		if v, ok := readTrimmed(rec); ok && v.Equal(rt.opts.Own) {
			return &NotStoredError{Target: rt.real, Recovery: rec, Err: cause}
		}
	}
	return rt.rescue(rt.opts.Own, cause)
}

// storeOwn stores Own into the prepared temporary file and renames it
// over the file: one attempt. The recovery file is kept until it is
// stored.
func (rt *Rotation) storeOwn() error {
	own := rt.opts.Own
	err := rt.fill(own)
	if err == nil {
		err = os.Rename(rt.tmp.Name(), rt.real)
		if err == nil {
			_ = rt.tmp.Close()
			rt.tmp = nil
			err = syncDir(rt.dir)
		}
	}
	if err != nil {
		return rt.keepOwn(err)
	}
	rt.removeRecovery(own)
	return nil
}

// removeRecovery deletes the recovery files that hold v, now stored.
func (rt *Rotation) removeRecovery(v Secret) {
	for _, rec := range rt.recoveryPaths() {
		if got, ok := readTrimmed(rec); ok && got.Equal(v) {
			_ = os.Remove(rec)
		}
	}
}

// tidyLeftovers handles the temporary files of rotations killed before
// they finished (under the lock no rotation is in progress): a bare
// reservation is removed, and one that holds a token other than the
// file's is the newest rotated token, whose store a SIGKILL cut short: it
// becomes the recovery file (unless one exists already), so that nobody
// spends the dead token the file still holds.
func (rt *Rotation) tidyLeftovers() {
	base := filepath.Base(rt.real)
	es, err := os.ReadDir(rt.dir)
	if err != nil {
		return
	}
	cur, _ := readTrimmed(rt.real)
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), "."+base+".tmp-") || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(rt.dir, e.Name())
		v, ok := leftoverValue(path)
		switch {
		case !ok:
		case v.IsZero() || v.Equal(cur):
			_ = os.Remove(path)
		default:
			if _, err := os.Lstat(RecoveryPath(rt.real)); errors.Is(err, os.ErrNotExist) {
				// Written back whole, without the reservation's zeros.
				if WriteFileAtomic(RecoveryPath(rt.real), []byte(v.Reveal()+"\n"), 0o600) == nil {
					_ = os.Remove(path)
				}
			}
		}
	}
}

// leftoverValue reads what a leftover temporary file holds: the zero
// value for a bare reservation (only zero bytes). ok is false when it
// cannot be read or does not look like a token that fill wrote.
func leftoverValue(path string) (Secret, bool) {
	data, err := os.ReadFile(path)
	if err != nil || len(data) > reserveBytes {
		return Secret{}, false
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	v := strings.TrimSuffix(string(data), "\n")
	for _, c := range v {
		if c <= ' ' || c > '~' {
			return Secret{}, false
		}
	}
	if v == "" {
		return Secret{}, true
	}
	return New(v), true
}

// settleRecovery looks at a recovery file left by an earlier failed
// store: one holding Own is ours; one holding what the file holds was
// restored already and is removed; any other means the file probably
// holds a dead token, and nothing is exchanged until a person (or the
// process retrying it) restores the recovered one.
func (rt *Rotation) settleRecovery() error {
	cur, _ := readTrimmed(rt.real)
	for _, rec := range rt.recoveryPaths() {
		v, ok := readTrimmed(rec)
		switch {
		case !ok:
		case !rt.opts.Own.IsZero() && v.Equal(rt.opts.Own):
		case v.Equal(cur):
			_ = os.Remove(rec)
		default:
			return recoveryPendingError(rec, rt.real)
		}
	}
	return nil
}

func recoveryPendingError(rec, target string) error {
	return fmt.Errorf("%w: %s holds a rotated token that was never stored in %s, so the token there is probably no longer valid; "+
		"if no tokenkeeper process is still retrying to store it (its log says so), restore it with `%s`",
		ErrRecoveryPending, rec, target, RestoreCommand(rec, target))
}

// readTrimmed reads a small file's value as Resolve would (one trailing
// newline trimmed); ok is false when it cannot be read or is empty.
func readTrimmed(path string) (Secret, bool) {
	v, err := readSecretFile(path)
	if err != nil || v == "" {
		return Secret{}, false
	}
	return New(v), true
}

// CheckStore reports whether a rotated value could be stored in the file
// now: CheckWritable, then the checks BeginRotation makes (not a mount
// point, not immutable or append-only, the filesystem neither read-only
// nor full, no recovery file waiting), and a probe: a temporary file
// beside it created, filled and fsynced, then removed. config check runs
// it; nothing is locked and the value is not read.
func (r Ref) CheckStore() error {
	if err := r.CheckWritable(); err != nil {
		return err
	}
	real := r.File
	if p, err := filepath.EvalSymlinks(real); err == nil {
		real = p
	}
	dir := filepath.Dir(real)
	cur, _ := readTrimmed(real)
	if v, ok := readTrimmed(RecoveryPath(real)); ok && !v.Equal(cur) {
		return &Error{Ref: r.String(), Err: recoveryPendingError(RecoveryPath(real), real)}
	}
	if err := checkStorable(real, dir); err != nil {
		return &Error{Ref: r.String(), Err: err}
	}
	f, err := reserveTemp(dir, filepath.Base(real))
	if err != nil {
		return &Error{Ref: r.String(), Err: fmt.Errorf("%w: %w", ErrCannotStore, err)}
	}
	_ = f.Close()
	// A rotation may have tidied the probe away already.
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &Error{Ref: r.String(), Err: err}
	}
	return nil
}
