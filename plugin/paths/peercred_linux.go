package paths

import "syscall"

// peerCredFD reads SO_PEERCRED of a connected unix socket.
func peerCredFD(fd int) (uid uint32, pid int32, err error) {
	cred, err := syscall.GetsockoptUcred(fd, syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	if err != nil {
		return 0, 0, err
	}
	return cred.Uid, cred.Pid, nil
}
