package secret

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// ErrCannotStore: a rotated value could not be stored where it must go
// (a mount point, an immutable file, a full or read-only filesystem). The
// message names the cause and what to do.
var ErrCannotStore = errors.New("the file cannot be rewritten")

// ErrRecoveryPending: a recovery file holds a rotated value that was
// never stored in the file it belongs to, which probably holds a dead one.
var ErrRecoveryPending = errors.New("a rotated token waits in a recovery file")

// ErrBusy: another process held the file's rotation lock until the
// caller's deadline.
var ErrBusy = errors.New("another process is rotating this file")

// ErrSuperseded: StoreHeld did not store the held value because the file
// was written since it was rotated (see RotationOptions.OwnReplaces).
var ErrSuperseded = errors.New("the file was rewritten since the held token was rotated")

// reserveBytes is what the temporary file reserves before an exchange: a
// rotated token is written over these blocks, so a filesystem that fills
// up during the exchange cannot refuse it.
const reserveBytes = 4096

// defaultRetryFor bounds how long Commit retries replacing the file.
const defaultRetryFor = 5 * time.Second

// NotStoredError is a rotated value that could not replace its file.
// Recovery, when set, is a 0600 file holding it; the message says how to
// restore it. Neither carries the value.
type NotStoredError struct {
	Target   string // the file the value belongs in
	Recovery string // where it was saved instead; "" when nowhere
	Err      error  // why the file could not be replaced
}

func (e *NotStoredError) Error() string {
	if e.Recovery == "" {
		return fmt.Sprintf("could not store the rotated token in %s: %v; no recovery file could be written either, it is held only in this process's memory",
			e.Target, e.Err)
	}
	return fmt.Sprintf("could not store the rotated token in %s: %v; it was saved in %s (mode 0600): fix the cause, then restore it with `%s`",
		e.Target, e.Err, e.Recovery, RestoreCommand(e.Recovery, e.Target))
}

// Unwrap returns why the file could not be replaced.
func (e *NotStoredError) Unwrap() error { return e.Err }

// RestoreCommand is the shell command that puts a recovery file's value
// back into target. It writes in place, so it works on a file that is a
// mount point too.
func RestoreCommand(recovery, target string) string {
	return fmt.Sprintf("cat %s > %s && rm %s", shellQuote(recovery), shellQuote(target), shellQuote(recovery))
}

// RotationOptions tune BeginRotation and StoreHeld.
type RotationOptions struct {
	// Own is, for StoreHeld, a rotated value this process holds that is
	// not stored yet; a recovery file holding it is its own copy, not a
	// conflict.
	Own Secret
	// OwnReplaces is the value Own was rotated from (what the file held
	// then). If the file now holds neither, someone wrote it since (a
	// person restored Own and another process rotated it further, or an
	// administrator installed a new token): Own is not stored over it
	// (ErrSuperseded). Zero: not known, Own is stored.
	OwnReplaces Secret
	// FallbackDir receives the recovery file when none can be written
	// next to the file (empty: no fallback).
	FallbackDir string
	// RetryFor bounds how long Commit keeps trying to replace the file
	// before it writes the recovery file; 0 means 5s. ctx bounds it too.
	RetryFor time.Duration
}

// Rotation is one read → exchange → store cycle of a rotated file secret
// (a Cloud Director service-account token), under an exclusive lock on a
// sibling lock file, so that two processes never spend the same value.
// BeginRotation proves the store can work before the value is read;
// Commit stores the rotated value or writes it to a recovery file; Close
// ends the cycle. A Rotation is used by one goroutine.
type Rotation struct {
	ref       Ref
	real, dir string // the file (symlinks resolved) and its directory
	opts      RotationOptions
	lock      *paths.FileLock
	tmp       *os.File // the prepared temporary file beside real; nil once used
	value     Secret
}

// BeginRotation takes the rotation lock of a File reference (waiting
// until ctx ends: ErrBusy), settles what earlier rotations left (a
// recovery file, the temporary file of a killed one), checks that the
// file can be replaced (ErrCannotStore, ErrRecoveryPending), creates and
// fsyncs the temporary file the rotated value will go into, and reads the
// current value. o.Own is not used.
func (r Ref) BeginRotation(ctx context.Context, o RotationOptions) (*Rotation, error) {
	o.Own, o.OwnReplaces = Secret{}, Secret{}
	rt, err := r.lockRotation(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := rt.begin(ctx); err != nil {
		_ = rt.Close()
		return nil, &Error{Ref: r.String(), Err: err}
	}
	return rt, nil
}

// StoreHeld stores o.Own, a rotated value a failed Commit left with the
// caller, under the rotation lock: one attempt, no retry (the caller
// retries later). It returns nil once stored (and removes its recovery
// file), ErrSuperseded when the file was written since (see OwnReplaces),
// else a *NotStoredError naming the recovery file that holds o.Own.
func (r Ref) StoreHeld(ctx context.Context, o RotationOptions) error {
	if o.Own.IsZero() {
		return nil
	}
	rt, err := r.lockRotation(ctx, o)
	if err != nil {
		return err
	}
	defer rt.Close()
	rt.tidyLeftovers()
	if rt.superseded() {
		return &Error{Ref: r.String(), Err: ErrSuperseded}
	}
	err = rt.settleRecovery()
	if err == nil {
		err = checkStorable(rt.real, rt.dir)
	}
	if err == nil {
		err = rt.prepare()
	}
	if err != nil {
		return rt.keepOwn(err)
	}
	return rt.storeOwn()
}

// lockRotation is the Rotation of r with its lock taken.
func (r Ref) lockRotation(ctx context.Context, o RotationOptions) (*Rotation, error) {
	if r.kind() != kindFile {
		return nil, &Error{Ref: r.String(), Err: fmt.Errorf("%w: must be a file reference to be rotated", ErrInvalidRef)}
	}
	real := r.File
	if p, err := filepath.EvalSymlinks(real); err == nil {
		real = p
	}
	rt := &Rotation{ref: r, real: real, dir: filepath.Dir(real), opts: o}
	if rt.opts.RetryFor <= 0 {
		rt.opts.RetryFor = defaultRetryFor
	}
	lock, err := lockRotation(ctx, rt.dir, rt.lockName())
	if err != nil {
		return nil, &Error{Ref: r.String(), Err: err}
	}
	rt.lock = lock
	return rt, nil
}

func (rt *Rotation) begin(ctx context.Context) error {
	rt.tidyLeftovers()
	if err := rt.settleRecovery(); err != nil {
		return err
	}
	if err := checkStorable(rt.real, rt.dir); err != nil {
		return err
	}
	if err := rt.prepare(); err != nil {
		return err
	}
	v, err := rt.ref.Resolve(ctx)
	if err != nil {
		return err
	}
	rt.value = v
	return nil
}

// superseded reports whether the file was written since Own was rotated
// from OwnReplaces (see RotationOptions.OwnReplaces).
func (rt *Rotation) superseded() bool {
	own, from := rt.opts.Own, rt.opts.OwnReplaces
	if own.IsZero() || from.IsZero() {
		return false
	}
	cur, ok := readTrimmed(rt.real)
	return ok && !cur.Equal(own) && !cur.Equal(from)
}

// Value is the file's value as read under the lock.
func (rt *Rotation) Value() Secret { return rt.value }

// Reread reads the file again, still under the lock: a writer that does
// not take it (a person, an older tokenkeeper) may have replaced it.
func (rt *Rotation) Reread(ctx context.Context) (Secret, error) {
	v, err := rt.ref.Resolve(ctx)
	if err == nil {
		rt.value = v
	}
	return v, err
}

// Commit stores v, the rotated value: into the prepared temporary file
// (fsynced), then renamed over the file, retrying for RetryFor within ctx.
// When the file still cannot be replaced, v goes to a 0600 recovery file
// next to it (else in FallbackDir) and Commit returns a *NotStoredError
// naming it.
func (rt *Rotation) Commit(ctx context.Context, v Secret) error {
	if v.IsZero() {
		return &Error{Ref: rt.ref.String(), Err: fmt.Errorf("could not store: %w", ErrEmpty)}
	}
	err := rt.fill(v)
	if err == nil {
		err = rt.replaceRetrying(ctx)
	}
	if err == nil {
		rt.removeRecovery(v)
		return nil
	}
	return rt.rescue(v, err)
}

// Close removes the temporary file if it was not used and releases the
// lock. It is safe to call more than once.
func (rt *Rotation) Close() error {
	if rt.tmp != nil {
		name := rt.tmp.Name()
		_ = rt.tmp.Close()
		_ = os.Remove(name)
		rt.tmp = nil
	}
	return rt.lock.Unlock() // nil-safe, and idempotent
}

// lockName is the sibling lock file: the file itself is replaced on every
// rotation, so a lock on it would lock an inode nobody opens next.
func (rt *Rotation) lockName() string { return "." + filepath.Base(rt.real) + ".lock" }

// RecoveryPath is where a rotated value of path that could not be stored
// is saved: next to it, named path + ".recovery".
func RecoveryPath(path string) string { return path + ".recovery" }

// recoveryPaths are where a recovery file of rt may be: next to the file,
// then in the fallback directory.
func (rt *Rotation) recoveryPaths() []string {
	out := []string{RecoveryPath(rt.real)}
	if fb := rt.fallbackPath(); fb != "" {
		out = append(out, fb)
	}
	return out
}

// fallbackPath names the recovery file in FallbackDir after the file's
// base name and a digest of its full path, so that two files of one name
// never share one.
func (rt *Rotation) fallbackPath() string {
	if rt.opts.FallbackDir == "" {
		return ""
	}
	sum := New(rt.real).Fingerprint() // "sha256:…": a digest of the path, not of a secret
	return filepath.Join(rt.opts.FallbackDir, filepath.Base(rt.real)+"-"+strings.TrimPrefix(sum, "sha256:")+".recovery")
}

// lockRotation takes the flock name in dir (paths.Dir.Lock: polling, so
// that ctx's deadline is honoured). A lock still held when ctx ends is
// ErrBusy; one that cannot be taken at all, ErrCannotStore.
func lockRotation(ctx context.Context, dir, name string) (*paths.FileLock, error) {
	d, err := paths.OpenDirAsIs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: could not open the rotation lock %s: %w", ErrCannotStore, filepath.Join(dir, name), err)
	}
	// The flock lives on the lock file's descriptor, not the directory's.
	defer d.Close()
	l, err := d.Lock(ctx, name)
	switch {
	case err == nil:
		return l, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: its lock %s was still held when the caller gave up: %w", ErrBusy, d.Join(name), ctx.Err())
	}
	return nil, fmt.Errorf("%w: could not take the rotation lock: %w", ErrCannotStore, err)
}
