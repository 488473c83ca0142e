package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
	"github.com/tokenkeeper/tokenkeeper/plugin/guardfile"
)

// guardWhy is what the reset tells the user before it clears a record.
const guardWhy = `tokenkeeper waits after a failed or unknown-outcome login so that a wrong or
changing secret can never lock the account: SSO locks an account after 5 failed
logins within 180 s, for 15 minutes, and every tokenkeeper process of yours
(agents, get --no-agent, plugins) shares this wait. Reset only once the secret is
fixed or an administrator has unlocked the account. A reset keeps the hard
ceiling (at most 2 failed logins per account within 180 s): it cannot be used to
try more secrets sooner.`

func (a *app) guardCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guard",
		Short: "Show or reset the lockout guard (failed logins per account)",
		Long: `The lockout guard remembers failed and unknown-outcome logins per account
(provider, server origin, user or token) for every tokenkeeper process of your
user, in guard.json in the runtime directory. It holds no secret and no
upstream text.`,
		Example: `  tokenkeeper guard status
  tokenkeeper guard reset --profile sddc`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.guardStatusCommand(), a.guardResetCommand())
	return cmd
}

func (a *app) guardStatusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List the accounts with a lockout record (no secrets)",
		Example: `  tokenkeeper guard status
  tokenkeeper guard status --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.guardFile()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			entries, err := s.List(ctx)
			if err != nil {
				return &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
			}
			if asJSON {
				return writeGuardJSON(a, entries)
			}
			return a.writeGuardTable(entries)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document instead of a table")
	return cmd
}

func (a *app) writeGuardTable(entries []guardfile.Entry) error {
	if len(entries) == 0 {
		fmt.Fprintln(a.env.Stdout, "no lockout records: every account may log in")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(a.env.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tORIGIN\tPRINCIPAL\tFAILURES\tRECENT\tRETRY-AT\tLAST-OUTCOME")
	for _, e := range entries {
		retry := "-"
		if e.RetryAt.After(now) {
			retry = e.RetryAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", e.Provider, e.Origin, e.Principal,
			e.Failures, e.Recent, retry, orDash(e.Outcome))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeGuardJSON(a *app, entries []guardfile.Entry) error {
	type entry struct {
		Provider  string     `json:"provider"`
		Origin    string     `json:"origin"`
		Principal string     `json:"principal"`
		Failures  int        `json:"failures"`
		Recent    int        `json:"recentAttempts"`
		RetryAt   *time.Time `json:"retryAt,omitempty"`
		Outcome   string     `json:"lastOutcome,omitempty"`
	}
	out := struct {
		APIVersion string  `json:"apiVersion"`
		Kind       string  `json:"kind"`
		Accounts   []entry `json:"accounts"`
	}{APIVersion: exec.APIVersion, Kind: "GuardStatus", Accounts: []entry{}}
	for _, e := range entries {
		x := entry{Provider: e.Provider, Origin: e.Origin, Principal: e.Principal, Failures: e.Failures,
			Recent: e.Recent, Outcome: e.Outcome}
		if !e.RetryAt.IsZero() {
			t := e.RetryAt
			x.RetryAt = &t
		}
		out.Accounts = append(out.Accounts, x)
	}
	enc := json.NewEncoder(a.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (a *app) guardResetCommand() *cobra.Command {
	var profile string
	var all bool
	cmd := &cobra.Command{
		Use:   "reset --profile NAME | --all",
		Short: "Forget the lockout record of a profile's account, so the next call logs in",
		Long:  "reset clears the lockout record of the account a profile logs in as.\n\n" + guardWhy,
		Example: `  tokenkeeper guard reset --profile sddc
  tokenkeeper guard reset --all`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (profile == "") == !all {
				return usageError("give --profile NAME or --all")
			}
			s, err := a.guardFile()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			fmt.Fprintln(a.env.Stderr, guardWhy)
			if all {
				n, err := s.ResetAll(ctx)
				if err != nil {
					return &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
				}
				fmt.Fprintf(a.env.Stderr, "tokenkeeper: cleared the lockout records of %d account(s)\n", n)
				return nil
			}
			return a.resetProfile(ctx, s, profile)
		},
	}
	cmd.Flags().StringVarP(&profile, "profile", "p", "", "profile whose account to reset")
	cmd.Flags().BoolVar(&all, "all", false, "clear every record (also replaces a corrupt guard file)")
	a.completeProfiles(cmd)
	return cmd
}

// resetProfile clears the record of the account profile logs in as. For
// an API key or token the account is named by the credential, which is
// read (never shown) to find the record.
func (a *app) resetProfile(ctx context.Context, s *guardfile.Store, profile string) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	acct, err := profileAccount(ctx, cfg, profile)
	if err != nil {
		return err
	}
	found, err := s.Reset(ctx, acct)
	if err != nil {
		return &exec.Error{Code: exec.CodeBadConfig, Message: err.Error(), Err: err}
	}
	if !found {
		fmt.Fprintf(a.env.Stderr, "tokenkeeper: no lockout record for %s (profile %q): nothing to reset\n", acct, profile)
		return nil
	}
	fmt.Fprintf(a.env.Stderr, "tokenkeeper: cleared the lockout record of %s (profile %q); the next call logs in\n", acct, profile)
	return nil
}

// guardFile is the shared guard store of this user.
func (a *app) guardFile() (*guardfile.Store, error) {
	dir, err := a.runtimeDir()
	if err != nil {
		return nil, &exec.Error{Code: exec.CodeBadConfig, Message: "no runtime directory for the lockout guard: " + err.Error(), Err: err}
	}
	return guardfile.NewIn(dir), nil
}
