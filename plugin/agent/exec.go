package agent

import (
	"context"
	"time"
)

// ExecHandler answers the exec protocol (host.ExecHandler over the
// agent's keeper): one request line in, the document to send back out.
// served reports that it handed out a token (see Idle.Served).
type ExecHandler interface {
	Answer(ctx context.Context, line []byte) (answer []byte, served bool)
}

// ExecCallTimeout bounds an exec-protocol call whose header carries no
// timeout (a caller without a deadline): the CLI's default --timeout.
const ExecCallTimeout = 2 * time.Minute
