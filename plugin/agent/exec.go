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

// ExecCallTimeout bounds one exec-protocol call in the agent: the
// documents carry no deadline, and this is the CLI's default --timeout.
const ExecCallTimeout = 2 * time.Minute
