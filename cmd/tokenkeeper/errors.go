package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// classify turns any error of a CLI call into the *exec.Error that decides
// the exit code and the Error document: a status of the agent, or of an
// in-process keeper turned into one by plugin.ErrorStatus (the classifier
// the TokenService itself answers with), goes through host.ExecCode, the
// table the agent's exec socket uses too — so one failure has one code
// whichever way it was asked for. Messages come from errors that
// are secret-free by contract (providers, keeper, config, secret refs).
func classify(err error) *exec.Error {
	var e *exec.Error
	if errors.As(err, &e) {
		return e
	}
	code, reason, msg := statusOf(err)
	return &exec.Error{Code: host.ExecCode(code, reason), Message: msg, Err: err}
}

// statusOf is the gRPC code and ErrorInfo reason of err, and the message
// to show: the agent's own words for its statuses, else err's text.
func statusOf(err error) (codes.Code, string, string) {
	var he *host.Error
	if errors.As(err, &he) {
		msg := err.Error()
		if he.Message != "" {
			msg = he.Message // the agent's own words; the code is in the document
		}
		return he.Code, he.Reason, msg
	}
	if errors.Is(err, agentconn.ErrNotReady) {
		// The CLI's own error: the agent it started never answered.
		return codes.Unavailable, "", err.Error()
	}
	st := plugin.ErrorStatus(err, time.Now())
	return st.Code(), wire.Reason(st), st.Message()
}

// classify is the package classifier plus what only the CLI knows: an
// error before any verb ran is a usage error, and the lockout guard's
// retry time goes into the Error document.
func (a *app) classify(err error) *exec.Error {
	e := classify(err)
	if !a.started && e.Code == exec.CodeInternal {
		e = &exec.Error{Code: exec.CodeInvalidArgument, Message: err.Error(), Err: err}
	}
	if e.Code == exec.CodeFailedPrecondition && e.RetryAt.IsZero() {
		c := *e
		c.RetryAt = retryAt(err)
		e = &c
	}
	return e
}

// retryAt is when the lockout guard will try again: from the status of
// the TokenService (ErrorInfo retry_at), the agent's or an in-process
// keeper's alike.
func retryAt(err error) time.Time {
	var he *host.Error
	if errors.As(err, &he) {
		return he.RetryAt
	}
	return time.Time{}
}

// rawFormat reports whether cmd was asked for token, header or env output.
// When flag parsing failed before --format was reached, the arguments
// still say what the caller will do with stdout.
func rawFormat(cmd *cobra.Command, args []string) bool {
	f := cmd.Flags().Lookup("format")
	if f == nil {
		return false
	}
	v := f.Value.String()
	if !f.Changed {
		v = formatArg(args)
	}
	return v != exec.FormatJSON && exec.ValidFormat(v)
}

// formatArg is the last --format/-o value in args before "--", or "".
func formatArg(args []string) string {
	v := ""
	for i, arg := range args {
		if arg == "--" {
			break
		}
		for _, name := range []string{"--format", "-o"} {
			if rest, ok := strings.CutPrefix(arg, name); ok {
				switch {
				case rest == "" && i+1 < len(args):
					v = args[i+1]
				case strings.HasPrefix(rest, "="):
					v = rest[1:]
				case name == "-o" && rest != "":
					v = rest
				}
			}
		}
	}
	return v
}

// statusError ends the CLI with a status of its own and a stderr line:
// exec's 126 and 127 for a command that cannot run, as env(1) does.
type statusError struct {
	status int
	msg    string
	err    error
}

func (e *statusError) Error() string { return e.msg }

func (e *statusError) Unwrap() error { return e.err }

// firstProblem shortens the error of a profiles file with several
// problems to the first and a pointer to config check: the one line of a
// scripted verb is read by people in CI logs, not parsed.
func firstProblem(e *exec.Error) *exec.Error {
	var j interface{ Unwrap() []error }
	if e.Code != exec.CodeBadConfig || !errors.As(e.Err, &j) || len(j.Unwrap()) < 2 {
		return e
	}
	c := *e
	c.Message = fmt.Sprintf("%d problems in the profiles file, the first: %s (all of them: tokenkeeper config check)",
		len(j.Unwrap()), j.Unwrap()[0])
	return &c
}

// oneLine folds a multi-line message (joined config errors) into the one
// stderr line the protocol promises.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
}

// usageError marks a flag or argument combination as exit code 2.
func usageError(format string, args ...any) error {
	return exec.Errorf(exec.CodeInvalidArgument, format, args...)
}
