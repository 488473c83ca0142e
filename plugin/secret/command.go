package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// waitDelay bounds how long Wait keeps draining pipes after the process
// group was killed, in case a descendant escaped the group with setsid.
const waitDelay = 2 * time.Second

// runCommand runs argv without a shell, stdin from /dev/null, and returns
// its stdout minus one trailing newline. Errors carry the exit status or
// the timeout, never the command's stdout or stderr: both may hold the
// secret or fragments of it.
func runCommand(ctx context.Context, argv []string, timeout time.Duration) (string, error) {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	stdout := &limitedBuffer{max: maxValueSize}
	stderr := &countingWriter{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	// A helper such as `sh -c '…'` forks; killing only the direct child
	// would leave the grandchildren running and holding our pipes.
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return killProcessGroup(cmd) }

	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("%w: %w", ErrCommandFailed, ctx.Err())
	case runCtx.Err() != nil:
		return "", fmt.Errorf("%w: timed out after %s (the process group was killed)", ErrCommandFailed, timeout)
	case err != nil:
		return "", commandError(err, stderr.n)
	case stdout.overflow:
		return "", fmt.Errorf("%w: output is larger than %d bytes", ErrCommandFailed, maxValueSize)
	}
	return trimNewline(stdout.String()), nil
}

// commandError describes a failed run by its exit status and the size of
// its stderr, a hint that there is something to look at by hand.
func commandError(err error, stderrBytes int) error {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		hint := ""
		if stderrBytes > 0 {
			hint = fmt.Sprintf(" (stderr suppressed: %d bytes; run the command by hand to see it)", stderrBytes)
		}
		return fmt.Errorf("%w: %s%s", ErrCommandFailed, exitErr.ProcessState.String(), hint)
	}
	var execErr *exec.Error
	if errors.As(err, &execErr) {
		// exec.Error names only the program and the reason.
		return fmt.Errorf("%w: could not start: %w", ErrCommandFailed, execErr)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		return fmt.Errorf("%w: a process it started kept its output open", ErrCommandFailed)
	}
	// Start failures (*fs.PathError from fork/exec) name the program only.
	return fmt.Errorf("%w: could not run: %w", ErrCommandFailed, err)
}

// limitedBuffer keeps at most max bytes and remembers whether more came.
// The buffer is a named field, not embedded: an embedded bytes.Buffer
// would promote ReadFrom and io.Copy would bypass the limit.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string { return b.buf.String() }

// countingWriter discards what it gets and counts it.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
