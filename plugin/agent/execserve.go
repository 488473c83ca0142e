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

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
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
	l, ok := s.exec.(*paths.PeerListener)
	if !ok {
		return nil, fmt.Errorf("exec socket: %T is not an agent listener", s.exec)
	}
	ln, err := startLanes(l.Listener, l.UID, func(c conn) { serveConn(x, c, readTimeout, g) }, logger)
	if err != nil {
		return nil, err
	}
	return ln.close, nil
}

// serveConn answers the one call of connection c.
func serveConn(x ExecHandler, c conn, readTimeout time.Duration, g *gate) {
	_ = c.SetReadDeadline(time.Now().Add(readTimeout))
	line, err := readLine(c)
	if err != nil {
		if doc := framingError(err, readTimeout); doc != nil {
			writeAnswer(c, doc)
		}
		return
	}
	if !g.enter() {
		writeAnswer(c, exec.MarshalError(exec.Errorf(exec.CodeUnavailable, exitingMessage)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ExecCallTimeout)
	doc, served := x.Answer(ctx, line)
	cancel()
	g.leave(served)
	writeAnswer(c, doc)
}

func writeAnswer(c conn, doc []byte) {
	_ = c.SetWriteDeadline(time.Now().Add(execWriteTimeout))
	_, _ = c.Write(doc) // a client that went away has no use for it
}

// readLine reads one request line (without its newline) from r: up to
// the first newline, or EOF after some data (a client that half-closes
// instead), at most exec.MaxRequest bytes.
func readLine(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > exec.MaxRequest {
				return nil, errLineTooLong
			}
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		if i := bytes.IndexByte(buf[len(buf):len(buf)+n], '\n'); i >= 0 {
			buf = buf[:len(buf)+i]
			break
		}
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) && len(buf) > 0 {
			break
		}
		if errors.Is(err, io.EOF) {
			return nil, errNoRequest
		}
		if err != nil {
			return nil, err
		}
	}
	if len(buf) > exec.MaxRequest {
		return nil, errLineTooLong
	}
	return buf, nil
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
