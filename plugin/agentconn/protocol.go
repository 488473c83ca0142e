package agentconn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Protocol is the version of the exec protocol Call speaks and the
// agent answers: the first line of a call is its header, {"protocol":1}
// and the caller's remaining time, before the request document.
const Protocol = 1

// header is the first line of an exec-protocol call. Timeout is what is
// left of the caller's deadline when it sends (relative, so the clocks of
// caller and agent do not matter, as gRPC's grpc-timeout); the agent
// bounds the call by it and answers before it, with the cause, as it
// answers a gRPC caller. Without one the agent's own bound applies.
type header struct {
	Protocol int    `json:"protocol"`
	Timeout  string `json:"timeout,omitempty"`
}

// ErrHeader: the first line of a call is not the header of Protocol.
var ErrHeader = errors.New("not an exec protocol header")

// timeoutLeft is the timeout a header sends for deadline: what is left
// of it, truncated to the millisecond and at least one; 0 (none) for
// the zero deadline.
func timeoutLeft(deadline time.Time) time.Duration {
	if deadline.IsZero() {
		return 0
	}
	return max(time.Until(deadline).Truncate(time.Millisecond), time.Millisecond)
}

// appendHeader appends the header line of a call with timeout (none
// when 0) to b: what json.Marshal writes for header, written by hand as
// host/exec writes the request (TestHeaderIsMarshal).
func appendHeader(b []byte, timeout time.Duration) []byte {
	b = append(b, `{"protocol":`...)
	b = strconv.AppendInt(b, Protocol, 10)
	if timeout != 0 {
		b = append(b, `,"timeout":"`...)
		b = append(b, timeout.String()...) // digits, '.', '-' and unit letters: nothing to escape
		b = append(b, '"')
	}
	return append(b, '}', '\n')
}

// ParseHeader reads a header line (without its newline): the caller's
// timeout, 0 when it sent none. Anything but a header of Protocol, with
// no other field and a positive timeout, is ErrHeader.
func ParseHeader(line []byte) (time.Duration, error) {
	if t, ok := parseHeaderFast(line); ok {
		return t, nil
	}
	return parseHeaderJSON(line)
}

// parseHeaderJSON is ParseHeader by encoding/json: the strict parse, and
// every error's wording.
func parseHeaderJSON(line []byte) (time.Duration, error) {
	var h header
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(&h); err != nil || d.More() {
		return 0, fmt.Errorf("%w: send {\"protocol\":%d} first", ErrHeader, Protocol)
	}
	if h.Protocol != Protocol {
		return 0, fmt.Errorf("%w: protocol %d, this agent speaks %d", ErrHeader, h.Protocol, Protocol)
	}
	if h.Timeout == "" {
		return 0, nil
	}
	t, err := time.ParseDuration(h.Timeout)
	if err != nil || t <= 0 {
		return 0, fmt.Errorf("%w: the timeout must be a positive duration like \"3s\"", ErrHeader)
	}
	return t, nil
}
