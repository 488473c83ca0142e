package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// ErrNoRequest: stdin ended without a request (an empty stdin); the
// error of ReadRequest matches it with errors.Is.
var ErrNoRequest = errors.New("no request on stdin")

// trailingGrace is how long ReadRequest waits, once a request is
// complete, for the end of stdin, to reject what may follow it. Callers
// that close stdin after the request (the Ansible lookup, `echo … |`) are
// checked in full at no cost; one that keeps it open is answered after
// this pause instead of never.
const trailingGrace = 50 * time.Millisecond

// ReadRequest reads one JSON request of kind (KindTokenRequest,
// KindInvalidateRequest) from r and returns its bytes, for
// ParseTokenRequest or ParseInvalidateRequest. It returns as soon as the
// request's closing brace has arrived and r has either ended or stayed
// silent for a moment, so a stdin that never closes is no reason to wait;
// anything but white space after the request (in what arrived by then) is
// rejected. When ctx ends first, it returns an error of code
// InvalidArgument wrapping ctx's cause: the request did not arrive in time.
// The read goes on in the background until r ends; r must not be used
// after a deadline.
func ReadRequest(ctx context.Context, r io.Reader, kind string) ([]byte, error) {
	lr := &countingReader{r: r, max: MaxRequest}
	doc := make(chan framed, 1)
	tail := make(chan error, 1)
	go frame(lr, kind, doc, tail)
	select {
	case <-ctx.Done():
		return nil, lateRequest(ctx, kind, lr.n.Load())
	case f := <-doc:
		if f.err != nil {
			return nil, f.err
		}
		grace := time.NewTimer(trailingGrace)
		defer grace.Stop()
		select {
		case err := <-tail:
			if err != nil {
				return nil, err
			}
		case <-grace.C: // stdin stays open: the request is complete
		case <-ctx.Done():
		}
		return f.doc, nil
	}
}

// framed is one request as it came off the stream, or why it did not.
type framed struct {
	doc []byte
	err error
}

// frame decodes one JSON value from r (json.Decoder stops at an object's
// closing brace, without reading further), sends it on doc, then reads
// the rest of r and sends on tail whether it held only white space.
func frame(r *countingReader, kind string, doc chan<- framed, tail chan<- error) {
	dec := json.NewDecoder(r)
	var raw json.RawMessage
	switch err := dec.Decode(&raw); {
	case errors.Is(err, errRequestTooLarge), err == nil && len(raw) > MaxRequest:
		doc <- framed{err: invalid(fmt.Sprintf("%s on stdin is larger than %d bytes", kind, MaxRequest))}
		return
	case errors.Is(err, io.EOF):
		e := invalid(fmt.Sprintf("no --profile given and no %s on stdin", kind))
		e.Err = ErrNoRequest
		doc <- framed{err: e}
		return
	case err != nil:
		doc <- framed{err: invalid(fmt.Sprintf("malformed %s on stdin: %s", kind, jsonProblem(err)))}
		return
	}
	second := invalid(fmt.Sprintf("malformed %s on stdin: more than one JSON document", kind))
	rest, _ := io.ReadAll(dec.Buffered())
	if !jsonSpace(rest) {
		doc <- framed{err: second}
		return
	}
	doc <- framed{doc: raw}
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		if !jsonSpace(buf[:n]) {
			tail <- second
			return
		}
		if err != nil { // EOF, or a read error after a complete request
			tail <- nil
			return
		}
	}
}

// jsonSpace reports whether b holds only JSON's white space (space, tab,
// CR, LF): what encoding/json accepts around a document, and no more.
func jsonSpace(b []byte) bool { return len(bytes.Trim(b, " \t\r\n")) == 0 }

// lateRequest says how far the request had come when ctx ended.
func lateRequest(ctx context.Context, kind string, got int64) *Error {
	what := "nothing arrived"
	if got > 0 {
		what = fmt.Sprintf("%d bytes arrived, not a complete JSON object", got)
	}
	return &Error{Code: CodeInvalidArgument, Err: context.Cause(ctx),
		Message: fmt.Sprintf("no complete %s on stdin in time (%s)", kind, what)}
}

var errRequestTooLarge = errors.New("request too large")

// countingReader counts what it read (read concurrently by ReadRequest)
// and fails once more than max bytes came.
type countingReader struct {
	r   io.Reader
	max int64
	n   atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n.Load() > c.max {
		return 0, errRequestTooLarge
	}
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
