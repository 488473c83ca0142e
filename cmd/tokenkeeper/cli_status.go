package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// statusDocument is `status --json`. It never holds a token: fingerprints
// only.
type statusDocument struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Agent      agentStatus     `json:"agent"`
	Profiles   []profileStatus `json:"profiles"`
}

type agentStatus struct {
	Running bool   `json:"running"`
	Socket  string `json:"socket"`
	PID     int    `json:"pid,omitempty"`
}

type profileStatus struct {
	Profile          string     `json:"profile"`
	Provider         string     `json:"provider"`
	URL              string     `json:"url"`
	State            string     `json:"state"`
	AccessExpiresAt  *time.Time `json:"accessExpiresAt,omitempty"`
	RefreshExpiresAt *time.Time `json:"refreshExpiresAt,omitempty"`
	Fingerprint      string     `json:"fingerprint,omitempty"`
	LastError        string     `json:"lastError,omitempty"`
	RetryAt          *time.Time `json:"retryAt,omitempty"`
	LastUsed         *time.Time `json:"lastUsed,omitempty"`
	Counts           counts     `json:"counts"`
}

type counts struct {
	Logins          int64 `json:"logins"`
	LoginFailures   int64 `json:"loginFailures"`
	Refreshes       int64 `json:"refreshes"`
	RefreshFailures int64 `json:"refreshFailures"`
	Revocations     int64 `json:"revocations"`
}

func (a *app) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent and the state of every profile (never a token)",
		Long: `status asks the running agent for the state of every profile: state, time left
on the access and refresh credentials, upstream call counts, when the lockout
guard will try a rejected credential again (RETRY) and the end of the last
error, which holds its cause (status --json has all of it).
It does not start an agent; with none running it lists the configured
profiles as empty and says so.`,
		Example: `  tokenkeeper status
  tokenkeeper status --json | jq '.profiles[] | {profile, state}'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := a.status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			return writeStatusTable(a.env.Stdout, doc, a.env.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document instead of a table")
	return cmd
}

func (a *app) status(ctx context.Context) (statusDocument, error) {
	doc := statusDocument{APIVersion: exec.APIVersion, Kind: "Status", Profiles: []profileStatus{}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := a.agentProfiles(ctx, &doc.Agent)
	if err == nil && !doc.Agent.Running {
		list, err = a.configProfiles()
	}
	if err != nil {
		return doc, err
	}
	for _, s := range list {
		doc.Profiles = append(doc.Profiles, profileStatus{
			Profile: s.Profile, Provider: s.Provider, URL: s.URL, State: s.State,
			AccessExpiresAt: when(s.AccessExpiresAt), RefreshExpiresAt: when(s.RefreshExpiresAt),
			Fingerprint: s.Fingerprint, LastError: s.LastError, RetryAt: when(s.RetryAt), LastUsed: when(s.LastUsed),
			Counts: counts{s.Logins, s.LoginFailures, s.Refreshes, s.RefreshFailures, s.Revocations},
		})
	}
	return doc, nil
}

// agentProfiles asks the running agent, filling in st; with no agent it
// returns nothing and leaves st.Running false.
func (a *app) agentProfiles(ctx context.Context, st *agentStatus) ([]host.ProfileStatus, error) {
	c, p, err := a.dialRunning(ctx)
	if err != nil {
		return nil, err
	}
	st.Socket = p.Socket
	if c == nil {
		return nil, nil
	}
	list, err := c.Profiles(ctx)
	_ = c.Close()
	if err != nil {
		if errors.Is(err, host.ErrUnavailable) && !a.agentAnswers(ctx) {
			return nil, nil // it retired over a changed configuration just now
		}
		return nil, err
	}
	st.Running = true
	if pid, err := agentPID(ctx, p.Socket); err == nil {
		st.PID = pid
	}
	return list, nil
}

// configProfiles lists the configured profiles as holding nothing.
func (a *app) configProfiles() ([]host.ProfileStatus, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	var list []host.ProfileStatus
	for _, n := range cfg.Names() {
		pr := cfg.Profiles[n]
		list = append(list, host.ProfileStatus{Profile: n, Provider: pr.Provider, URL: pr.URL, State: "empty"})
	}
	return list, nil
}

func when(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func writeStatusTable(w io.Writer, doc statusDocument, now time.Time) error {
	if doc.Agent.Running {
		fmt.Fprintf(w, "agent: running, pid %d, socket %s\n\n", doc.Agent.PID, doc.Agent.Socket)
	} else {
		fmt.Fprintf(w, "agent: not running (socket %s); nothing is cached\n\n", doc.Agent.Socket)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tPROVIDER\tSTATE\tACCESS-LEFT\tREFRESH-LEFT\tLOGINS\tREFRESHES\tRETRY\tLAST-ERROR")
	for _, p := range doc.Profiles {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Profile, p.Provider, p.State,
			left(p.AccessExpiresAt, now), left(p.RefreshExpiresAt, now),
			ratio(p.Counts.Logins, p.Counts.LoginFailures), ratio(p.Counts.Refreshes, p.Counts.RefreshFailures),
			retryIn(p.RetryAt, now), shortenTail(p.LastError, 72))
	}
	return tw.Flush()
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

// shortenTail keeps the end of a long error, which holds the cause
// ("…HTTP 400 BAD_CREDENTIALS (credentials rejected)"), starting at a
// word when one begins in the first half of what is kept.
func shortenTail(s string, n int) string {
	if s == "" {
		return "-"
	}
	r := []rune(oneLine(s))
	if len(r) <= n {
		return string(r)
	}
	tail := r[len(r)-(n-1):]
	for i, c := range tail[:len(tail)/2] {
		if c == ' ' {
			tail = tail[i+1:]
			break
		}
	}
	return "…" + string(tail)
}

func (a *app) logoutCommand() *cobra.Command {
	var profile string
	cmd := &cobra.Command{
		Use:   "logout --profile NAME",
		Short: "Revoke a profile's tokens upstream and forget them",
		Long: `logout asks the agent to revoke the profile upstream (VCF: the refresh token;
VCD: the session) and forget its state. With no agent running nothing is
held, and it says so.`,
		Example: `  tokenkeeper logout --profile sddc`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profile == "" {
				return usageError("--profile is required")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			c, _, err := a.dialRunning(ctx)
			if err != nil {
				return err
			}
			if c == nil {
				fmt.Fprintln(a.env.Stderr, "tokenkeeper: no agent is running; nothing to revoke")
				return nil
			}
			defer c.Close()
			if err := c.Revoke(ctx, profile); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stderr, "tokenkeeper: profile %q logged out\n", profile)
			return nil
		},
	}
	cmd.Flags().StringVarP(&profile, "profile", "p", "", "profile name")
	a.completeProfiles(cmd)
	return cmd
}
