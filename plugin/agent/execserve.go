package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
)

// DefaultExecReadTimeout bounds how long the exec socket waits for a
// request line (Options.ExecReadTimeout): a client that connects and
// stalls, or sends half a line, gets an Error document then and holds
// nothing longer.
const DefaultExecReadTimeout = 5 * time.Second

// execWriteTimeout bounds writing the answer to a client that stopped
// reading.
const execWriteTimeout = 5 * time.Second

// Framing errors of a request line.
var (
	errLineTooLong = fmt.Errorf("request is larger than %d bytes", exec.MaxRequest)
	errNoRequest   = errors.New("the connection closed before any request")
)

// conn is one caller's connection (a net.Conn satisfies it).
type conn interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// serveExec answers the exec protocol on s's exec socket with x (see
// lanes), every call passing g, one call per connection, until the
// returned function is called: it stops accepting and waits, up to a
// limit, for the calls in flight. Without x the socket is closed at once.
func serveExec(s *Socket, x ExecHandler, readTimeout time.Duration, g *gate, logger hclog.Logger) (stop func(limit time.Duration), err error) {
	if x == nil {
		_ = s.exec.Close()
		return func(time.Duration) {}, nil
	}
	fd, ok := s.exec.take()
	if !ok {
		return nil, errors.New("exec socket: closed before serving")
	}
	ln, err := startLanes(fd, s.exec.uid, func(c conn) { serveConn(x, c, readTimeout, g) }, logger)
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return ln.close, nil
}

// serveConn answers the one call of connection c: its header line
// (as agentconn.Call writes it), then its request line. The call is
// bounded by the caller's remaining time, as a gRPC call is by its
// grpc-timeout, so the keeper answers before the caller gives up and
// names the cause; a header without one gets ExecCallTimeout.
func serveConn(x ExecHandler, c conn, readTimeout time.Duration, g *gate) {
	_ = c.SetReadDeadline(time.Now().Add(readTimeout))
	head, line, err := readCall(c)
	if err != nil {
		if doc := framingError(err, readTimeout); doc != nil {
			writeAnswer(c, doc)
		}
		return
	}
	timeout, err := agentconn.ParseHeader(head)
	if err != nil {
		writeAnswer(c, exec.MarshalError(exec.Errorf(exec.CodeInvalidArgument, "exec socket: %v", err)))
		return
	}
	if timeout == 0 {
		timeout = ExecCallTimeout
	}
	if !g.enter() {
		writeAnswer(c, exec.MarshalError(exec.Errorf(exec.CodeUnavailable, exitingMessage)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	doc, served := x.Answer(ctx, line)
	cancel()
	g.leave(served)
	writeAnswer(c, doc)
}

func writeAnswer(c conn, doc []byte) {
	_ = c.SetWriteDeadline(time.Now().Add(execWriteTimeout))
	_, _ = c.Write(doc) // a client that went away has no use for it
}

// maxHeader bounds the header line: {"protocol":1,"timeout":"…"}.
const maxHeader = 256

// readCall reads a call's header line and request line (each without
// its newline) from r: the request ends at its newline, or at EOF after
// some data (a client that half-closes instead), at most exec.MaxRequest
// bytes.
func readCall(r io.Reader) (head, request []byte, err error) {
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxHeader+exec.MaxRequest {
				return nil, nil, errLineTooLong
			}
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Count(buf, []byte{'\n'}) >= 2 {
			break
		}
		if errors.Is(err, io.EOF) && len(buf) > 0 {
			break
		}
		if errors.Is(err, io.EOF) {
			return nil, nil, errNoRequest
		}
		if err != nil {
			return nil, nil, err
		}
	}
	head, request, _ = bytes.Cut(buf, []byte{'\n'})
	request, _, _ = bytes.Cut(request, []byte{'\n'})
	if len(request) > exec.MaxRequest {
		return nil, nil, errLineTooLong
	}
	return head, request, nil
}

// framingError is the Error document for a request line that could not
// be read, nil when there is no one to tell (a probe that connected and
// left: agentconn's Left, PID).
func framingError(err error, readTimeout time.Duration) []byte {
	switch {
	case errors.Is(err, errLineTooLong):
		return exec.MarshalError(exec.Errorf(exec.CodeInvalidArgument, "%v", err))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return exec.MarshalError(exec.Errorf(exec.CodeInvalidArgument,
			"no complete request line within %s: send one JSON document ending in a newline", readTimeout))
	}
	return nil
}
