//go:build unix

package secret

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the command in a new process group whose id is its
// pid, so killProcessGroup reaches every process it forked.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup sends SIGKILL to the whole group of the command.
func killProcessGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
