package main

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// serve runs c against the agent, or hands it to the core when the front
// cannot answer for the core: no agent runs (the core starts one), the
// agent retired, or finding it needs the configuration loaded.
func (f *front) serve(ctx context.Context, c *call) int {
	// --timeout bounds the whole call, reading the request included.
	b := bound{parent: ctx, deadline: time.Now().Add(c.timeout)}
	switch c.verb {
	case "get":
		return f.get(b, c)
	case "invalidate":
		return f.invalidate(b, c)
	}
	return f.withToken(b, c)
}

// bound is the deadline of one call (--timeout) and the context it runs
// under. It is not a context with that deadline: its timer would start
// Go's network poller (an epoll instance, an eventfd, a thread woken),
// which the call to a warm agent — about 100 µs on a socket whose
// timeouts carry the deadline (agentconn.Call) — has no use for.
// What waits on channels, reading a request on stdin or starting the
// agent, makes one (context) when it runs.
type bound struct {
	parent   context.Context
	deadline time.Time
}

// context is the call's context, ending at its deadline.
func (b bound) context() (context.Context, context.CancelFunc) {
	return context.WithDeadline(b.parent, b.deadline)
}

// forInput is the context c's request is resolved under: the call's
// (b.context) when it may be read from stdin, which waits on channels;
// the parent, with no timer, when --profile names it and nothing is read.
func (b bound) forInput(c *call) (context.Context, context.CancelFunc) {
	if c.profile != "" {
		return b.parent, func() {}
	}
	return b.context()
}

// left is what is left of the call's time, at least a millisecond.
func (b bound) left() time.Duration {
	return max(time.Until(b.deadline).Round(time.Millisecond), time.Millisecond)
}

// over reports whether the call's time ran out.
func (b bound) over() bool { return !time.Now().Before(b.deadline) }

// get prints the token the flags or the request on stdin ask for.
func (f *front) get(b bound, c *call) int {
	req, fromStdin, err := f.resolveGet(b, c)
	if err != nil {
		return exec.Fail(f.Stdout, f.Stderr, asExecError(err), c.format == exec.FormatJSON)
	}
	if !fromStdin {
		req.MinValidity, req.ForceRefresh, req.AllowShorter = exec.Duration(c.minValidity), c.forceRefresh, c.allowShorter
	}
	argv := f.Args
	if fromStdin {
		argv = f.getArgv(b, c, req)
	}
	ans := f.ask(b, c.config, req.Profile, tokenRequest(req), true)
	switch {
	case ans == nil || ans.Error == nil && ans.Kind != exec.KindToken:
		return f.delegate(argv)
	case ans.Error != nil:
		return f.fail(ans, c.format == exec.FormatJSON)
	}
	return f.print(ans, req.Profile, time.Duration(req.MinValidity), c.format)
}

// print writes the token of a Token answer in format, after the warning
// of a token shorter than minValidity asked.
func (f *front) print(ans *answer, profile string, minValidity time.Duration, format string) int {
	exec.WarnShorter(f.Stderr, profile, ans.Token, minValidity)
	if format == exec.FormatJSON {
		return f.write(ans.raw) // the agent's document, as the core prints it
	}
	if err := exec.WriteToken(f.Stdout, ans.Token, format); err != nil {
		return exec.Fail(f.Stdout, f.Stderr, asExecError(err), false)
	}
	return exec.ExitOK
}

// resolveGet is exec.ResolveGet under b (see bound.forInput).
func (f *front) resolveGet(b bound, c *call) (exec.TokenRequest, bool, error) {
	ctx, cancel := b.forInput(c)
	defer cancel()
	return exec.ResolveGet(ctx, f.input(c), c.profile)
}

// invalidate drops the token the flags or the request on stdin name.
func (f *front) invalidate(b bound, c *call) int {
	req, err := f.resolveInvalidate(b, c)
	if err != nil {
		return exec.Fail(f.Stdout, f.Stderr, asExecError(err), true)
	}
	argv := f.Args
	if c.profile == "" {
		argv = f.invalidateArgv(b, c, req)
	}
	req.APIVersion, req.Kind = exec.APIVersion, exec.KindInvalidateRequest
	ans := f.ask(b, c.config, req.Profile, req.AppendJSON(nil), false)
	switch {
	case ans == nil:
		return f.delegate(argv)
	case ans.Error != nil:
		return f.fail(ans, true)
	}
	return exec.ExitOK
}

// resolveInvalidate is exec.ResolveInvalidate under b (see
// bound.forInput).
func (f *front) resolveInvalidate(b bound, c *call) (exec.InvalidateRequest, error) {
	ctx, cancel := b.forInput(c)
	defer cancel()
	return exec.ResolveInvalidate(ctx, f.input(c),
		exec.InvalidateRequest{Profile: c.profile, Fingerprint: c.fingerprint, Reason: c.reason})
}

// withToken is env and exec: the token of the profile, as export lines
// or in a command's environment.
func (f *front) withToken(b bound, c *call) int {
	profile, err := exec.DefaultProfile(c.profile, f.Getenv(exec.EnvProfile))
	if err != nil {
		return f.delegate(f.Args) // the core says how the verb is called
	}
	req := exec.TokenRequest{Profile: profile, MinValidity: exec.Duration(c.minValidity), AllowShorter: c.allowShorter}
	ans := f.ask(b, c.config, profile, tokenRequest(req), true)
	switch {
	case ans == nil || ans.Error == nil && ans.Kind != exec.KindToken:
		return f.delegate(f.Args)
	case ans.Error != nil:
		return f.fail(ans, false)
	case c.verb == "env":
		return f.print(ans, profile, c.minValidity, exec.FormatEnv)
	}
	return f.runWith(ans, profile, c)
}

// runWith is exec's command run with the token of a Token answer in its
// environment; its exit status.
func (f *front) runWith(ans *answer, profile string, c *call) int {
	exec.WarnShorter(f.Stderr, profile, ans.Token, c.minValidity)
	env := append(append([]string{}, f.Environ...), exec.EnvVars(ans.Token)...)
	code, err := exec.Run(c.argv, env, exec.Stdio{In: f.Stdin, Out: f.Stdout, ErrOut: f.Stderr})
	var se *exec.StartError
	switch {
	case errors.As(err, &se):
		line(f.Stderr, exec.OneLine(se.Error()))
		return se.Status
	case err != nil:
		return exec.Fail(f.Stdout, f.Stderr, asExecError(err), false)
	}
	return code
}

// input is where get and invalidate read a request from.
func (f *front) input(c *call) exec.Input {
	return exec.Input{Set: c.given, EnvProfile: f.Getenv(exec.EnvProfile), Stdin: f.Stdin,
		StdinTerminal: f.StdinTerminal, Timeout: c.timeout}
}

// tokenRequest is the TokenRequest document of req.
func tokenRequest(req exec.TokenRequest) []byte {
	req.APIVersion, req.Kind = exec.APIVersion, exec.KindTokenRequest
	return req.AppendJSON(nil)
}

// answer is the agent's answer: a Token document, an Error document
// (Error set), or nothing (invalidate's success), and its bytes.
type answer struct {
	exec.Answer
	raw []byte
}

// ask sends one request to the caller's agent, starting it first when
// none answers and start is set (get, env, exec; invalidate never starts
// one); nil when the core must take the call over: no configuration
// can be named, the agent cannot be found without loading it
// (agentconn.LocateFromNames not fresh), it could not be started (the
// core tries again and says why), it retired during the call, or it
// refused the request (InvalidArgument).
//
// It and the functions above it keep small frames (the front and the
// call are pointers, the answer is on the heap, its uses in functions of
// their own): the walk to the runtime directory and LocateFromNames'
// reads under it are the deepest calls of the front, and each doubling
// of the stack they need costs a stack copy, and fresh pages, at every
// start.
func (f *front) ask(b bound, config, profile string, request []byte, start bool) *answer {
	cfg := f.configFile(config)
	if cfg == "" {
		return nil
	}
	dir, err := paths.OpenRuntimeDir(f.Getenv)
	if err != nil {
		return nil // the core says why
	}
	defer dir.Close()
	a, fresh, err := agentconn.LocateFromNames(dir, cfg, f.Environ)
	if err != nil || !fresh {
		return nil
	}
	begin := time.Now()
	raw, err := agentconn.Call(b.deadline, a.Exec, request)
	if errors.Is(err, agentconn.ErrNoAgent) && start && f.startAgent(b, &a) == nil {
		begin = time.Now()
		raw, err = agentconn.Call(b.deadline, a.Exec, request)
	}
	if b.over() || errors.Is(err, context.DeadlineExceeded) {
		return late(profile, begin)
	}
	if err != nil {
		// No agent, a retired one, or an exchange that failed: the core
		// starts, retries, or says what is wrong, as before the front.
		return nil
	}
	return decode(raw)
}

// late is the answer to a call the agent did not answer within the
// caller's time, which began at begin: Unavailable, as the core says it.
func late(profile string, begin time.Time) *answer {
	msg := exec.NoAnswer(profile, time.Since(begin), context.DeadlineExceeded)
	return &answer{Answer: exec.Answer{Error: &exec.ErrorBody{Code: exec.CodeUnavailable, Message: msg, Retryable: true}}}
}

// configFile is the configuration named by --config, else the default
// one ("" when none can be named).
func (f *front) configFile(config string) string {
	if config != "" {
		return config
	}
	return paths.ConfigFile(f.Getenv)
}

// decode is the agent's answer raw; nil when the core must take the
// call over (see ask).
func decode(raw []byte) *answer {
	if len(bytes.TrimSpace(raw)) == 0 {
		return &answer{raw: raw} // invalidate's answer: nothing to print
	}
	ans := &answer{raw: raw}
	if err := exec.DecodeAnswer(raw, &ans.Answer); err != nil || ans.Error == nil && ans.Kind != exec.KindToken {
		return nil
	}
	if ans.Error != nil && ans.Error.Code == exec.CodeInvalidArgument {
		// The front parsed the request itself, so a refusal is the
		// framing's (an agent built before the protocol header reads the
		// header as its request) or a rule of the keeper's: the core asks
		// over gRPC, which every agent speaks, and says which.
		return nil
	}
	return ans
}

// fail reports an Error answer as the core would: the document on stdout
// when document is set, one line on stderr, and the code's exit status.
func (f *front) fail(ans *answer, document bool) int {
	if document {
		if ans.raw != nil {
			f.write(ans.raw)
		} else {
			_ = exec.WriteError(f.Stdout, &exec.Error{Code: ans.Error.Code, Message: ans.Error.Message})
		}
	}
	line(f.Stderr, exec.OneLine(ans.Error.Message))
	return ans.Error.Code.ExitCode()
}

// write prints an answer of the agent as it came.
func (f *front) write(doc []byte) int {
	if _, err := f.Stdout.Write(doc); err != nil {
		line(f.Stderr, "could not write the answer: "+err.Error())
		return exec.ExitInternal
	}
	return exec.ExitOK
}

// asExecError is err as the *exec.Error it is, else an internal one.
func asExecError(err error) *exec.Error {
	var e *exec.Error
	if errors.As(err, &e) {
		return e
	}
	return &exec.Error{Code: exec.CodeInternal, Message: err.Error(), Err: err}
}

// getArgv is the command line that asks the core for what req asks, for
// a request the front has read from stdin: the core cannot read it again.
func (f *front) getArgv(b bound, c *call, req exec.TokenRequest) []string {
	argv := []string{f.Args[0], "get", "--profile=" + req.Profile,
		"--min-validity=" + time.Duration(req.MinValidity).String(), "--format=" + c.format}
	if req.ForceRefresh {
		argv = append(argv, "--force-refresh")
	}
	if req.AllowShorter {
		argv = append(argv, "--allow-shorter")
	}
	return append(argv, commonArgs(b, c)...)
}

// invalidateArgv is getArgv for invalidate.
func (f *front) invalidateArgv(b bound, c *call, req exec.InvalidateRequest) []string {
	argv := []string{f.Args[0], "invalidate", "--profile=" + req.Profile, "--fingerprint=" + req.Fingerprint}
	if req.Reason != "" {
		argv = append(argv, "--reason="+req.Reason)
	}
	return append(argv, commonArgs(b, c)...)
}

// commonArgs are --config as given and --timeout, less the time spent
// reading the request: the deadline stays the caller's.
func commonArgs(b bound, c *call) []string {
	args := []string{"--timeout=" + b.left().String()}
	if c.config != "" {
		args = append(args, "--config="+c.config)
	}
	return args
}

// startAgent starts agent a as the core does (agentconn.Start: the core
// binary, `agent --detached`, one winner of many racing callers), which
// is as the core would after loading the configuration: a fresh names
// file says an agent has served this very configuration. It saves a
// cold get the start of the core (measured: the core's package inits
// and configuration load cost more than the exec).
func (f *front) startAgent(b bound, a *paths.Agent) error {
	exe, err := f.Executable()
	if err != nil {
		return err
	}
	core, _, err := findCore(exe)
	if err != nil {
		return err
	}
	ctx, cancel := b.context()
	defer cancel()
	return agentconn.Start(*a, core, f.Environ)(ctx)
}
