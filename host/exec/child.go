package exec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	osexec "os/exec"
	"os/signal"
	"syscall"
)

// forwarded are the signals `tokenkeeper exec` passes on to its command,
// so that Ctrl-C, a CI runner's SIGTERM or a SIGHUP reach the real work.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2}

// Exit statuses of exec when the command cannot run (POSIX shells, env(1)).
const (
	ExitNotExecutable = 126
	ExitNotFound      = 127
)

// StartError is a command `tokenkeeper exec` could not start: Status is
// ExitNotFound when it does not exist, ExitNotExecutable when it exists
// but cannot be executed. The CLI ends with Status and the message as its
// stderr line, as env(1) does.
type StartError struct {
	Status int
	msg    string
	err    error
}

func (e *StartError) Error() string { return e.msg }

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.err }

func startError(prog string, err error) *StartError {
	status, what := ExitNotExecutable, "cannot be executed"
	if errors.Is(err, osexec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		status, what = ExitNotFound, "command not found"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		what += ": " + pe.Err.Error()
	}
	return &StartError{Status: status, msg: fmt.Sprintf("could not run %s: %s", prog, what), err: err}
}

// Stdio is the standard streams a command runs with.
type Stdio struct {
	In          io.Reader
	Out, ErrOut io.Writer
}

// Run runs argv with env and stdio, forwards the signals a person or a CI
// runner sends (forwarded) while it runs, and returns its exit status:
// the command's own, or 128+N when signal N killed it. A command that
// cannot start is a *StartError.
func Run(argv, env []string, stdio Stdio) (int, error) {
	c := osexec.Command(argv[0], argv[1:]...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = stdio.In, stdio.Out, stdio.ErrOut
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return 0, startError(argv[0], err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = c.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	return waitStatus(argv[0], c.Wait())
}

// waitStatus is the exit status of a command from the error of its Wait.
func waitStatus(prog string, err error) (int, error) {
	var ee *osexec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, fmt.Errorf("could not wait for %s: %w", prog, err)
}
