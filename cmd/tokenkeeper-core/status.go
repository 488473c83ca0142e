package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/config"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

func (a *app) statusCommand() *cobra.Command {
	var asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent and the state of every profile (never a token)",
		Long: `status asks the running agents of the configuration file for the state of
every profile: state, time left on the access and refresh credentials,
upstream call counts, when the lockout guard retries (RETRY) and the last
error. Tokens are never shown. It does not start an agent; with none running
it lists the configured profiles as empty. --json prints one Status
document.

Reference: docs/agent.md in the tokenkeeper repository.`,
		Example: `  tokenkeeper status
  tokenkeeper status --json | jq '.profiles[] | {profile, state}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := a.status(cmd.Context(), timeout)
			if err != nil {
				return err
			}
			if asJSON {
				return exec.WriteStatus(a.env.Stdout, doc)
			}
			return writeStatusTable(a.env.Stdout, doc, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document instead of a table")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up on an agent that does not answer within this long")
	return cmd
}

func (a *app) status(ctx context.Context, timeout time.Duration) (exec.Status, error) {
	doc := exec.NewStatus()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mine, cfg, err := a.agentOf()
	if err != nil {
		return doc, err
	}
	others, err := otherAgents(mine)
	if err != nil {
		return doc, err
	}
	doc.Agent = exec.AgentStatus{Socket: mine.Socket, Tag: mine.Tag}
	list, err := queryAgent(ctx, &doc.Agent)
	if err != nil {
		return doc, notAnswering(ctx, doc.Agent.Socket, timeout, err)
	}
	addProfiles(&doc, doc.Agent, list)
	for _, st := range others {
		list, err := queryAgent(ctx, &st)
		if err != nil {
			return doc, notAnswering(ctx, st.Socket, timeout, err)
		}
		if st.Running {
			doc.OtherAgents = append(doc.OtherAgents, st)
			addProfiles(&doc, st, list)
		}
	}
	if !doc.Agent.Running && len(doc.OtherAgents) == 0 {
		addProfiles(&doc, doc.Agent, configProfiles(cfg))
	}
	return doc, nil
}

// addProfiles appends to doc the profiles list of the agent st reported.
func addProfiles(doc *exec.Status, st exec.AgentStatus, list []host.ProfileStatus) {
	var ref *exec.AgentRef
	if st.Running {
		ref = &exec.AgentRef{PID: st.PID, Tag: st.Tag}
	}
	for _, s := range list {
		doc.Profiles = append(doc.Profiles, exec.ProfileStatus{
			Agent:   ref,
			Profile: s.Profile, Provider: s.Provider, URL: s.URL, State: s.State,
			AccessExpiresAt: when(s.AccessExpiresAt), RefreshExpiresAt: when(s.RefreshExpiresAt),
			Fingerprint: s.Fingerprint, LastError: s.LastError, RetryAt: when(s.RetryAt), LastUsed: when(s.LastUsed),
			Counts: exec.Counts{Logins: s.Logins, LoginFailures: s.LoginFailures, Refreshes: s.Refreshes,
				RefreshFailures: s.RefreshFailures, Revocations: s.Revocations},
			Principal: s.Principal, Role: s.Role, Scopes: s.Scopes,
		})
	}
}

// otherAgents are the agents of the caller's configuration file whose
// socket exists, other than the caller's: started by callers with other
// values of the {env} variables.
func otherAgents(mine paths.Agent) ([]exec.AgentStatus, error) {
	all, err := paths.Agents(mine.Dir, mine.Config)
	if err != nil {
		return nil, err
	}
	var out []exec.AgentStatus
	for _, p := range all {
		if p.Tag != mine.Tag {
			out = append(out, exec.AgentStatus{Socket: p.Socket, Tag: p.Tag})
		}
	}
	return out, nil
}

// queryAgent asks the agent on st.Socket for its profiles, filling in st;
// with no agent there (a socket a crashed agent left, one retiring over a
// changed configuration) it returns nothing and leaves st.Running false.
func queryAgent(ctx context.Context, st *exec.AgentStatus) ([]host.ProfileStatus, error) {
	c, err := host.Dial(ctx, st.Socket)
	if err != nil {
		return nil, nil //nolint:nilerr // no agent is an answer, not a failure
	}
	list, err := c.Profiles(ctx)
	_ = c.Close()
	if err != nil {
		if errors.Is(err, host.ErrUnavailable) && !agentconn.Running(ctx, st.Socket) {
			return nil, nil // it retired over a changed configuration just now
		}
		return nil, err
	}
	st.Running = true
	if pid, err := agentconn.PID(ctx, st.Socket); err == nil {
		st.PID = pid
	}
	return list, nil
}

// notAnswering explains an agent that accepted the connection but did not
// answer within --timeout: a stopped (SIGSTOP, a debugger) or hung
// process, whose pid the socket still tells. Other errors pass through.
func notAnswering(ctx context.Context, socket string, timeout time.Duration, err error) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	pctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	who, hint := "the agent", "end its process, and the next get starts a new one"
	if pid, perr := agentconn.PID(pctx, socket); perr == nil {
		who = fmt.Sprintf("the agent (pid %d)", pid)
		hint = fmt.Sprintf("'kill -CONT %d' resumes a stopped one; 'kill -KILL %d' ends a hung one "+
			"(without revoking its tokens), and the next get starts a new one", pid, pid)
	}
	return &exec.Error{Code: exec.CodeUnavailable, Err: err, Message: fmt.Sprintf(
		"%s on %s accepted the connection but did not answer within --timeout %s: it is stopped or hung; %s",
		who, socket, timeout, hint)}
}

// configProfiles lists the configured profiles as holding nothing.
func configProfiles(cfg *config.Config) []host.ProfileStatus {
	var list []host.ProfileStatus
	for _, n := range cfg.Names() {
		pr := cfg.Profiles[n]
		list = append(list, host.ProfileStatus{Profile: n, Provider: pr.Provider, URL: pr.URL, State: "empty"})
	}
	return list
}

func when(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// lastErrorWidth bounds the LAST-ERROR column: the last column, so a long
// error widens the line, not the table.
const lastErrorWidth = 160

// writeStatusTable prints a line per agent, then the profiles; with rows
// from more than one agent an AGENT column (the pid) says whose each is.
func writeStatusTable(w io.Writer, doc exec.Status, now time.Time) error {
	writeAgentLines(w, doc)
	perAgent := len(doc.OtherAgents)+boolInt(doc.Agent.Running) > 1
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "PROFILE\tPROVIDER\tSTATE\tROLE\tACCESS-LEFT\tREFRESH-LEFT\tLOGINS\tREFRESHES\tRETRY\tLAST-ERROR"
	if perAgent {
		header = "AGENT\t" + header
	}
	fmt.Fprintln(tw, header)
	for _, p := range doc.Profiles {
		if perAgent {
			fmt.Fprintf(tw, "%s\t", agentColumn(p.Agent))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Profile, p.Provider, p.State, orDash(p.Role),
			left(p.AccessExpiresAt, now), left(p.RefreshExpiresAt, now),
			ratio(p.Counts.Logins, p.Counts.LoginFailures), ratio(p.Counts.Refreshes, p.Counts.RefreshFailures),
			retryIn(p.RetryAt, now), shortError(p.Profile, p.LastError, lastErrorWidth))
	}
	return tw.Flush()
}

// writeAgentLines says which agents run: the caller's, then those other
// {env} values started.
func writeAgentLines(w io.Writer, doc exec.Status) {
	switch {
	case doc.Agent.Running:
		fmt.Fprintf(w, "agent: running, pid %d, socket %s\n", doc.Agent.PID, doc.Agent.Socket)
	case len(doc.OtherAgents) == 0:
		fmt.Fprintf(w, "agent: not running (socket %s); nothing is cached\n\n", doc.Agent.Socket)
		return
	default:
		fmt.Fprintf(w, "agent: not running for your environment (socket %s)\n", doc.Agent.Socket)
	}
	for _, o := range doc.OtherAgents {
		fmt.Fprintf(w, "agent: running, pid %d, socket %s (started with other values of the file's {env} variables)\n",
			o.PID, o.Socket)
	}
	fmt.Fprintln(w)
}

// agentColumn is the pid of the agent holding a row, "-" for none.
func agentColumn(r *exec.AgentRef) string {
	if r == nil || r.PID == 0 {
		return "-"
	}
	return strconv.Itoa(r.PID)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// left is the time until t, "-" when unknown, "expired" when past.
func left(t *time.Time, now time.Time) string {
	switch {
	case t == nil:
		return "-"
	case !t.After(now):
		return "expired"
	}
	return t.Sub(now).Round(time.Second).String()
}

// ratio prints "3" or "3 (1 failed)".
func ratio(ok, failed int64) string {
	s := strconv.FormatInt(ok, 10)
	if failed > 0 {
		s += " (" + strconv.FormatInt(failed, 10) + " failed)"
	}
	return s
}

// retryIn is the time until the lockout guard tries again: "-" when it
// is not waiting, "now" when the time has come.
func retryIn(t *time.Time, now time.Time) string {
	switch {
	case t == nil:
		return "-"
	case !t.After(now):
		return "now"
	}
	return "in " + t.Sub(now).Round(time.Second).String()
}

// shortError is a profile's last error for the status table: without the
// `profile "x": ` prefixes the PROFILE column already says, on one line,
// whole up to max runes; a longer one loses its middle, never its start
// (what failed) or its end (the upstream's status and code, e.g. "HTTP 400
// BAD_CREDENTIALS: …", and the classification), cut at spaces.
func shortError(profile, s string, max int) string {
	s = exec.OneLine(strings.ReplaceAll(s, fmt.Sprintf("profile %q: ", profile), ""))
	if s == "" {
		return "-"
	}
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	head := r[:max*2/5]
	from := len(r) - (max - len(head) - 3) // 3: " … "
	// The upstream's status and code ("HTTP 400 BAD_CREDENTIALS") are
	// what a person acts on: the tail starts there when it fits.
	if i := strings.LastIndex(s, "HTTP "); i >= 0 {
		if at := utf8.RuneCountInString(s[:i]); at < from && len(r)-at <= max-3-20 {
			head, from = r[:max-3-(len(r)-at)], at
		}
	}
	tail := r[from:]
	for i := len(head) - 1; i > len(head)/2; i-- {
		if head[i] == ' ' {
			head = head[:i]
			break
		}
	}
	if i := slices.Index(tail, ' '); i >= 0 && i < len(tail)/2 && !strings.HasPrefix(string(tail), "HTTP ") {
		tail = tail[i+1:]
	}
	return string(head) + " … " + string(tail)
}
