package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// waitDelay bounds how long Wait keeps draining pipes after the process
// group was killed or the command exited, in case a descendant still
// holds them open (a background child, or one that escaped the group).
const waitDelay = time.Second

// runCommand runs argv without a shell, stdin from /dev/null, in this
// process's environment without the variables named in scrub, and returns
// its stdout minus one trailing newline. Errors carry the exit status or
// the timeout, never the command's stdout or stderr: both may hold the
// secret or fragments of it.
func runCommand(ctx context.Context, argv []string, timeout time.Duration, scrub []string) (string, error) {
	if err := CheckProgram(argv[0]); err != nil {
		return "", err
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	if len(scrub) > 0 {
		cmd.Env = withoutVars(os.Environ(), scrub)
	}
	stdout := &limitedBuffer{max: maxValueSize}
	stderr := &countingWriter{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	// A helper such as `sh -c '…'` forks; killing only the direct child
	// would leave the grandchildren running and holding our pipes.
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return killProcessGroup(cmd) }

	err := cmd.Run()
	if cmd.Process != nil {
		// Whatever the outcome, nothing the helper left in its group may
		// outlive the answer. Daemons (gpg-agent) leave the group with
		// setsid and are not affected.
		_ = killProcessGroup(cmd)
	}
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("%w: %w", ErrCommandFailed, ctx.Err())
	case runCtx.Err() != nil:
		return "", fmt.Errorf("%w: timed out after %s (the process group was killed)", ErrCommandFailed, timeout)
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success():
		// The command answered and exited 0; a background child kept
		// stdout open until WaitDelay. The answer stands.
	case err != nil:
		return "", commandError(err, stderr.n)
	}
	if stdout.overflow {
		return "", fmt.Errorf("%w: output is larger than %d bytes", ErrCommandFailed, maxValueSize)
	}
	return trimNewline(stdout.String()), nil
}

// CheckProgram refuses a program named by path (the profiles file makes a
// relative one absolute) that someone other than the current user or root
// could change or replace: it would run with our rights and see the
// secret. Programs found in PATH are the PATH owner's business, and a
// missing one is reported by exec. Resolve runs it before every command;
// `config check` runs it without running the command.
func CheckProgram(prog string) error {
	if !strings.ContainsRune(prog, '/') {
		return nil
	}
	fi, err := os.Stat(prog)
	if err != nil {
		return nil
	}
	if err := CheckTrustedFile(prog, fi); err != nil {
		return fmt.Errorf("program: %w", err)
	}
	if err := CheckTrustedDirs(prog); err != nil {
		return fmt.Errorf("program: %w", err)
	}
	return nil
}

// withoutVars is environ without the variables named in names.
func withoutVars(environ, names []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
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
