//go:build linux || darwin

package agentconn

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxFallbackFD bounds the descriptor scan when /proc is not mounted: Go
// raises the soft RLIMIT_NOFILE to the hard limit, which can be huge.
const maxFallbackFD = 1 << 20

// withInheritedFDsClosed runs start — which forks and execs a child — with
// every descriptor above stderr that the child would inherit marked
// close-on-exec, and clears the mark again afterwards.
//
// Go opens its own descriptors close-on-exec, but descriptors this process
// inherited without FD_CLOEXEC (Packer hands its output file and a pipe to
// shell-local steps as fds 4 and 5) pass on into every child. A detached
// agent holding the write end of a pipe its caller's reader waits on makes
// `packer build | tee`, `$(tokenkeeper get …)` or a CI log capture hang
// until the agent exits.
//
// The parent does this rather than the child closing descriptors at its
// start: the child then never holds them, not even while its runtime
// initialises, and it works for any executable. The marks are cleared
// afterwards because other children of this process — the command of
// `tokenkeeper exec` — should inherit the caller's descriptors as any
// wrapper's command would. Nothing here races: descriptors without
// FD_CLOEXEC are only those inherited at exec, which nothing in this
// process opens or closes, and the CLI starts no other child meanwhile.
func withInheritedFDsClosed(start func() error) error {
	fds := inheritableFDs()
	for _, fd := range fds {
		setCloseOnExec(fd, true)
	}
	defer func() {
		for _, fd := range fds {
			setCloseOnExec(fd, false)
		}
	}()
	return start()
}

// inheritableFDs lists the open descriptors above stderr without
// FD_CLOEXEC.
func inheritableFDs() []int {
	var out []int
	eachFD(fdDir, func(fd int) {
		if fd <= 2 {
			return
		}
		flags, err := fcntl(fd, syscall.F_GETFD, 0)
		if err == nil && flags&syscall.FD_CLOEXEC == 0 {
			out = append(out, fd)
		}
	})
	return out
}

// eachFD calls f with each of this process's descriptors listed in
// procDir (fdDir), else (no /proc or /dev/fd mounted) with every number
// below RLIMIT_NOFILE (bounded);
// for a number that is not open F_GETFD fails with EBADF.
func eachFD(procDir string, f func(fd int)) {
	if entries, err := os.ReadDir(procDir); err == nil {
		for _, e := range entries {
			if fd, err := strconv.Atoi(e.Name()); err == nil {
				f(fd)
			}
		}
		return
	}
	limit := uint64(maxFallbackFD)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < limit {
		limit = rl.Cur
	}
	for fd := range int(limit) {
		f(fd)
	}
}

func setCloseOnExec(fd int, on bool) {
	flags, err := fcntl(fd, syscall.F_GETFD, 0)
	if err != nil {
		return
	}
	if on {
		flags |= syscall.FD_CLOEXEC
	} else {
		flags &^= syscall.FD_CLOEXEC
	}
	_, _ = fcntl(fd, syscall.F_SETFD, flags)
}

// fcntl is fcntl(2); on macOS through libSystem, as Apple requires.
func fcntl(fd, cmd, arg int) (int, error) { return unix.FcntlInt(uintptr(fd), cmd, arg) }
