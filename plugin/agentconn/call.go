//go:build linux || darwin

package agentconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
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
// The wire is a fresh connection: the header line (Header: the protocol
// version and what is left of ctx's deadline, which bounds the call in
// the agent), then the request as one line (compacted first), and one
// answer line back. Its peer must run as this uid
// (SO_PEERCRED), as Dial checks on the gRPC socket. Call speaks raw
// blocking syscalls, so a short-lived client never starts Go's network
// poller; ctx's end (deadline or cancel) interrupts it and is its error.
//
// Errors: ErrNoAgent when nothing listens (start an agent, or let the
// full binary do it); ErrAgentLeft, with the Error document as answer,
// when the agent said Unavailable and has left the socket since; any
// other error means the exchange failed (ErrBadAnswer, a peer of another
// uid, ctx's cause).
func Call(ctx context.Context, socket string, request []byte) ([]byte, error) {
	fd, pid, err := dialFD(ctx, socket)
	if err != nil {
		return nil, err
	}
	answer, err := exchange(ctx, fd, append(Header(ctx), line(request)...))
	if err != nil {
		return nil, err
	}
	if unavailable(answer) && left(ctx, socket, pid) {
		return answer, fmt.Errorf("%w (pid %d)", ErrAgentLeft, pid)
	}
	return answer, nil
}

// dialFD connects a blocking unix socket to socket and returns it with
// the pid of its peer, which must run as this uid.
func dialFD(ctx context.Context, socket string) (int, int32, error) {
	fd, err := socketFD()
	if err != nil {
		return -1, 0, fmt.Errorf("could not reach the agent at %s: %w", socket, err)
	}
	if d, ok := ctx.Deadline(); ok {
		// A connect blocks while the agent's backlog is full; the
		// shutdown that ends a read or write (exchange) does not end it.
		tv := unix.NsecToTimeval(max(time.Until(d), time.Millisecond).Nanoseconds())
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	}
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

// line is request as one line ending in a newline.
func line(request []byte) []byte {
	request = bytes.TrimRight(request, " \t\r\n")
	if bytes.IndexByte(request, '\n') >= 0 {
		var b bytes.Buffer
		if json.Compact(&b, request) == nil {
			request = b.Bytes()
		} // else: not JSON; the agent says so
	}
	return append(request[:len(request):len(request)], '\n')
}

// exchange writes req on fd, reads one line back and closes fd. The end
// of ctx shuts the socket down, which ends a blocked read or write.
func exchange(ctx context.Context, fd int, req []byte) ([]byte, error) {
	var wg sync.WaitGroup
	wg.Add(1)
	stop := context.AfterFunc(ctx, func() { defer wg.Done(); _ = unix.Shutdown(fd, unix.SHUT_RDWR) })
	defer func() {
		if !stop() {
			wg.Wait() // never close fd under a running Shutdown
		}
		_ = unix.Close(fd)
	}()
	answer, err := writeRead(fd, req)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("agent call: %w", context.Cause(ctx))
	}
	return answer, err
}

// writeRead writes req in full and reads until a newline, EOF or
// MaxAnswer.
func writeRead(fd int, req []byte) ([]byte, error) {
	for len(req) > 0 {
		n, err := unix.Write(fd, req)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
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
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
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
func left(ctx context.Context, socket string, pid int32) bool {
	fd, now, err := dialFD(ctx, socket)
	if err != nil {
		return errors.Is(err, ErrNoAgent)
	}
	_ = unix.Close(fd)
	return now != pid
}
