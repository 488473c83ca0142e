//go:build linux || darwin

package agentconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// MaxAnswer bounds the answer Call reads: a Token document is a few
// kilobytes (a JWT and its header value).
const MaxAnswer = 1 << 20

// ErrAgentLeft: the agent answered Unavailable because it was going away
// (the profiles file changed and it retired, or it idled out) and it no
// longer listens on the socket. The call is worth running once more on
// the agent that listens there now (start one when none does), as
// Finder.Left tells a gRPC caller.
var ErrAgentLeft = errors.New("the agent left during the call")

// ErrBadAnswer: the agent's answer was not one line, or longer than
// MaxAnswer.
var ErrBadAnswer = errors.New("malformed answer from the agent")

// Call makes one exec-protocol call to the agent listening on socket
// (paths.Agent.Exec): it sends request, one TokenRequest or
// InvalidateRequest document (host/exec; its apiVersion is the protocol
// version), and returns the agent's answer, the document
// `tokenkeeper get --format json` prints for the same request — a Token
// document with the profile's url and caFile, or an Error document —
// byte for byte, ending in a newline. An answer that is an Error document
// is not an error of Call: the caller prints it as it is.
//
// The wire is a fresh connection: the header line (the protocol version
// and what is left of deadline, which bounds the call in the agent), then
// the request as one line (compacted first), and one answer line back.
// Its peer must run as this uid (SO_PEERCRED), as Connect checks on the
// gRPC socket.
//
// The call is bounded by deadline (none when zero) through socket
// timeouts (SO_SNDTIMEO, SO_RCVTIMEO, set from what is left of it before
// every connect, write and read), not a context: it makes no timer and no
// goroutine — one runtime timer alone starts Go's network poller, an
// epoll instance and an eventfd the short-lived front has no use for.
//
// Errors: ErrNoAgent when nothing listens (start an agent, or let the
// full binary do it); ErrAgentLeft, with the Error document as answer,
// when the agent said Unavailable and has left the socket since; an error
// wrapping context.DeadlineExceeded when deadline passed; any other error
// means the exchange failed (ErrBadAnswer, a peer of another uid).
func Call(deadline time.Time, socket string, request []byte) ([]byte, error) {
	fd, pid, err := dialFD(deadline, socket)
	if err != nil {
		return nil, err
	}
	req := appendHeader(make([]byte, 0, 64+len(request)), timeoutLeft(deadline))
	answer, err := exchange(fd, deadline, line(req, request))
	if err != nil {
		return nil, err
	}
	if unavailable(answer) && left(deadline, socket, pid) {
		return answer, fmt.Errorf("%w (pid %d)", ErrAgentLeft, pid)
	}
	return answer, nil
}

// errDeadline is the error of a call whose deadline passed. A type of
// its own rather than fmt.Errorf's, which would cost the package an init
// function at every start of the front.
var errDeadline error = deadlineError{}

type deadlineError struct{}

func (deadlineError) Error() string { return "agent call: " + context.DeadlineExceeded.Error() }
func (deadlineError) Unwrap() error { return context.DeadlineExceeded }

// setTimeout bounds each blocking syscall of fd in one direction (opt:
// SO_SNDTIMEO, which bounds a connect too, or SO_RCVTIMEO) by what is
// left of deadline (no bound when zero); errDeadline when nothing is.
func setTimeout(fd, opt int, deadline time.Time) error {
	if deadline.IsZero() {
		return nil
	}
	left := time.Until(deadline)
	if left <= 0 {
		return errDeadline
	}
	tv := unix.NsecToTimeval(left.Nanoseconds()) // rounded up: never the 0 that means no timeout
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
		return fmt.Errorf("agent call: set a timeout: %w", err)
	}
	return nil
}

// dialFD connects a blocking unix socket to socket and returns it with
// the pid of its peer, which must run as this uid. The connect and the
// first write time out at deadline; reads set their own timeout
// (writeRead).
func dialFD(deadline time.Time, socket string) (int, int32, error) {
	fd, err := socketFD()
	if err != nil {
		return -1, 0, fmt.Errorf("could not reach the agent at %s: %w", socket, err)
	}
	if err := setTimeout(fd, unix.SO_SNDTIMEO, deadline); err != nil {
		_ = unix.Close(fd)
		return -1, 0, err
	}
	// A connect blocks while the agent's backlog is full, up to the send
	// timeout.
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: socket}); err != nil {
		_ = unix.Close(fd)
		return -1, 0, fmt.Errorf("%w at %s: %v", ErrNoAgent, socket, err)
	}
	uid, pid, err := paths.PeerCredFD(fd)
	if err != nil || uid != uint32(os.Getuid()) {
		_ = unix.Close(fd)
		return -1, 0, fmt.Errorf("could not trust agent at %s: peer uid %d, err %v", socket, uid, err)
	}
	return fd, pid, nil
}

// line appends request to b as one line ending in a newline.
func line(b, request []byte) []byte {
	request = bytes.TrimRight(request, " \t\r\n")
	if bytes.IndexByte(request, '\n') >= 0 {
		var c bytes.Buffer
		if json.Compact(&c, request) == nil {
			request = c.Bytes()
		} // else: not JSON; the agent says so
	}
	return append(append(b, request...), '\n')
}

// exchange writes req on fd, reads one line back and closes fd.
func exchange(fd int, deadline time.Time, req []byte) ([]byte, error) {
	answer, err := writeRead(fd, deadline, req)
	_ = unix.Close(fd)
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// writeRead writes req in full and reads until a newline, EOF or
// MaxAnswer. A write or read that times out (EAGAIN: the socket
// timeouts of setTimeout) is errDeadline. A write and a read each get
// what is left of deadline when they start — the first write the send
// timeout dialFD set — so that retries after EINTR or a short count
// never add up past it.
func writeRead(fd int, deadline time.Time, req []byte) ([]byte, error) {
	for first := true; len(req) > 0; first = false {
		if !first {
			if err := setTimeout(fd, unix.SO_SNDTIMEO, deadline); err != nil {
				return nil, err
			}
		}
		n, err := unix.Write(fd, req)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil, errDeadline
		case err != nil:
			return nil, fmt.Errorf("agent call: write: %w", err)
		}
		req = req[n:]
	}
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= MaxAnswer {
				return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadAnswer, MaxAnswer)
			}
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		if err := setTimeout(fd, unix.SO_RCVTIMEO, deadline); err != nil {
			return nil, err
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil, errDeadline
		case err != nil:
			return nil, fmt.Errorf("agent call: read: %w", err)
		}
		buf = buf[:len(buf)+n]
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			if i != len(buf)-1 {
				return nil, fmt.Errorf("%w: data after the answer line", ErrBadAnswer)
			}
			return buf, nil
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: the agent closed the connection without an answer", ErrBadAnswer)
		}
	}
}

// unavailable reports whether answer is an Error document of code
// Unavailable: the code a going-away agent answers with.
func unavailable(answer []byte) bool {
	if !bytes.Contains(answer, []byte(`"Unavailable"`)) {
		return false // the fast path: no parse for a Token document
	}
	var doc struct {
		Kind  string `json:"kind"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	return json.Unmarshal(answer, &doc) == nil && doc.Kind == "Error" && doc.Error.Code == "Unavailable"
}

// left reports whether the agent with pid no longer listens on socket:
// nothing answers there, or another agent does (see Finder.Left).
func left(deadline time.Time, socket string, pid int32) bool {
	fd, now, err := dialFD(deadline, socket)
	if err != nil {
		return errors.Is(err, ErrNoAgent)
	}
	_ = unix.Close(fd)
	return now != pid
}
