package paths

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// xucredVersion is XUCRED_VERSION of <sys/ucred.h>, the only layout of
// struct xucred macOS has had.
const xucredVersion = 0

// peerCredFD reads the peer's credentials of a connected unix socket the
// way getpeereid(3) does, LOCAL_PEERCRED, plus LOCAL_PEERPID for the pid
// (macOS 10.8 and later). Both are recorded by the kernel at connect time.
func peerCredFD(fd int) (uid uint32, pid int32, err error) {
	xu, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, 0, fmt.Errorf("LOCAL_PEERCRED: %w", err)
	}
	// An unknown layout could put another field where the uid is read.
	if xu.Version != xucredVersion {
		return 0, 0, fmt.Errorf("LOCAL_PEERCRED: xucred version %d, want %d", xu.Version, xucredVersion)
	}
	p, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return 0, 0, fmt.Errorf("LOCAL_PEERPID: %w", err)
	}
	return xu.Uid, int32(p), nil
}
