package main

import (
	"time"

	"github.com/hashicorp/go-hclog"
)

// logTimeFormat is how log lines show a time value: RFC 3339 with
// milliseconds, e.g. retry_at=2026-12-01T20:30:00.000Z.
const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// timeLogger writes time.Time values of a log line in RFC 3339. hclog
// prints them with %v, which is time.String: a zone name and, for times
// from time.Now, the monotonic clock reading ("m=+60.078145892"), which
// means nothing to a reader of the agent's log.
type timeLogger struct{ hclog.Logger }

func (l timeLogger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, msg, logTimes(args)...)
}
func (l timeLogger) Trace(msg string, args ...any) { l.Logger.Trace(msg, logTimes(args)...) }
func (l timeLogger) Debug(msg string, args ...any) { l.Logger.Debug(msg, logTimes(args)...) }
func (l timeLogger) Info(msg string, args ...any)  { l.Logger.Info(msg, logTimes(args)...) }
func (l timeLogger) Warn(msg string, args ...any)  { l.Logger.Warn(msg, logTimes(args)...) }
func (l timeLogger) Error(msg string, args ...any) { l.Logger.Error(msg, logTimes(args)...) }

func (l timeLogger) With(args ...any) hclog.Logger {
	return timeLogger{l.Logger.With(logTimes(args)...)}
}
func (l timeLogger) Named(name string) hclog.Logger { return timeLogger{l.Logger.Named(name)} }
func (l timeLogger) ResetNamed(name string) hclog.Logger {
	return timeLogger{l.Logger.ResetNamed(name)}
}

// logTimes returns args (key, value, …) with every time.Time value
// formatted; the zero time is "never".
func logTimes(args []any) []any {
	var out []any
	for i := 1; i < len(args); i += 2 {
		t, ok := args[i].(time.Time)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = "never"
		if !t.IsZero() {
			out[i] = t.Format(logTimeFormat)
		}
	}
	if out == nil {
		return args
	}
	return out
}
