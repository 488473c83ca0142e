// Command tokenkeeper-sim runs a faithful simulator of an upstream token
// API (VCF SDDC Manager, VMware Cloud Director) for demos, end-to-end tests
// and users trying tokenkeeper without a lab:
//
//	tokenkeeper-sim vcf|vcd [--listen 127.0.0.1:0] [--tls] [--ca-out FILE]
//	    [--user NAME=PASSWORD[:ROLE]]… [--access-ttl 60m] [--refresh-ttl 24h]
//	    [--idle-timeout 30m] [--api-token TOKEN[:USER]]… [--service-account TOKEN[:USER]]…
//
// When ready it prints one JSON line on stdout, {"url":…,"caFile":…}, logs
// one line per request on stderr, and runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
)

// Common holds the flags every simulator shares, parsed in one place.
type Common struct {
	Run             sim.RunOptions // --listen, --tls, --ca-out
	Users           []UserSpec     // --user, in order
	AccessTTL       time.Duration  // --access-ttl
	RefreshTTL      time.Duration  // --refresh-ttl
	IdleTimeout     time.Duration  // --idle-timeout
	APITokens       []TokenSpec    // --api-token
	ServiceAccounts []TokenSpec    // --service-account
}

// UserSpec is one --user NAME=PASSWORD[:ROLE]. Role is "" when none was
// given (the simulator picks its default) and otherwise one of the
// simulator's Roles, spelled as registered.
type UserSpec struct{ Name, Password, Role string }

// TokenSpec is one --api-token or --service-account TOKEN[:USER]; the
// split is on the last ':'. User is "" when none was given.
type TokenSpec struct{ Token, User string }

// Simulator is one subcommand. Each registers itself from its own file
// with register (see vcf.go).
type Simulator struct {
	Name    string
	Summary string
	// Roles are the role names --user accepts after the last ':'
	// (matched case-insensitively).
	Roles []string
	// Setup registers the simulator's own flags on fs and returns the
	// constructor to call once all flags are parsed.
	Setup func(fs *flag.FlagSet) func(c Common) (sim.Backend, error)
}

// simulators is filled by register from init functions.
var simulators = map[string]Simulator{}

// register adds a subcommand; called from init.
func register(s Simulator) { simulators[s.Name] = s }

// errUsage marks errors answered with the usage text and exit status 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, in-process testable: it returns the exit
// status. SIGINT and SIGTERM end it cleanly (status 0).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 || isHelp(args[0]) {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		fmt.Fprint(w, usage())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	s, ok := simulators[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tokenkeeper-sim: unknown simulator %q\n\n%s", args[0], usage())
		return 2
	}
	backend, common, err := parse(s, args[1:], stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "tokenkeeper-sim %s: %v\nRun 'tokenkeeper-sim %s --help' for usage.\n", s.Name, err, s.Name)
		return 2
	}
	common.Run.Log = stderr
	if err := sim.Run(ctx, common.Run, backend, stdout); err != nil {
		fmt.Fprintf(stderr, "tokenkeeper-sim %s: %v\n", s.Name, err)
		return 1
	}
	return 0
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

func usage() string {
	names := make([]string, 0, len(simulators))
	for n := range simulators {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "usage: tokenkeeper-sim %s [flags]\n\nSimulators:\n", strings.Join(names, "|"))
	for _, n := range names {
		fmt.Fprintf(&b, "  %-6s %s\n", n, simulators[n].Summary)
	}
	b.WriteString("\nRun 'tokenkeeper-sim NAME --help' for its flags.\n")
	return b.String()
}

// parse reads the shared and the simulator's own flags and builds the
// backend. flag.ErrHelp means help was printed on stdout.
func parse(s Simulator, args []string, stdout, stderr io.Writer) (sim.Backend, Common, error) {
	c := Common{AccessTTL: 60 * time.Minute, RefreshTTL: 24 * time.Hour, IdleTimeout: 30 * time.Minute}
	fs := flag.NewFlagSet("tokenkeeper-sim "+s.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Run.Listen, "listen", "127.0.0.1:0", "address to listen on")
	fs.BoolVar(&c.Run.TLS, "tls", false, "serve HTTPS with a fresh self-signed CA")
	fs.StringVar(&c.Run.CAOut, "ca-out", "", "write the CA certificate (PEM) to this file (with --tls)")
	fs.Var(&userList{roles: s.Roles, list: &c.Users}, "user", "a user NAME=PASSWORD[:ROLE] (repeatable)")
	fs.DurationVar(&c.AccessTTL, "access-ttl", c.AccessTTL, "access token lifetime")
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", c.RefreshTTL, "refresh token lifetime, from issue")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "session idle timeout")
	fs.Var(&tokenList{list: &c.APITokens}, "api-token", "an API token TOKEN[:USER] (repeatable)")
	fs.Var(&tokenList{list: &c.ServiceAccounts}, "service-account", "a service-account token TOKEN[:USER] (repeatable)")
	build := s.Setup(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: tokenkeeper-sim %s [flags]\n\n%s\n\nFlags:\n", s.Name, s.Summary)
			printFlags(stdout, fs)
		}
		return nil, c, err
	}
	if fs.NArg() > 0 {
		return nil, c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.AccessTTL <= 0 || c.RefreshTTL <= 0 || c.IdleTimeout <= 0 {
		return nil, c, fmt.Errorf("--access-ttl, --refresh-ttl and --idle-timeout must be positive")
	}
	if c.Run.CAOut != "" && !c.Run.TLS {
		return nil, c, fmt.Errorf("--ca-out needs --tls")
	}
	b, err := build(c)
	return b, c, err
}

// printFlags lists the flags GNU-style (--name), as the docs spell them.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, help := flag.UnquoteUsage(f)
		if typ == "value" {
			typ = "VALUE…"
		}
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			help += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%-34s %s\n", line, help)
	})
}

// userList is the repeatable --user flag.
type userList struct {
	roles []string
	list  *[]UserSpec
}

func (u *userList) String() string { return "" }

// Set parses NAME=PASSWORD[:ROLE]: NAME ends at the first '='; a suffix
// after the last ':' is a role only if it names a known one, so
// passwords may contain '=' and ':'.
func (u *userList) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("--user wants NAME=PASSWORD[:ROLE]")
	}
	spec := UserSpec{Name: name, Password: rest}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		for _, r := range u.roles {
			if strings.EqualFold(rest[i+1:], r) {
				spec.Password, spec.Role = rest[:i], r
				break
			}
		}
	}
	if spec.Password == "" {
		return fmt.Errorf("--user %s: empty password", name)
	}
	*u.list = append(*u.list, spec)
	return nil
}

// tokenList is the repeatable --api-token / --service-account flag.
type tokenList struct{ list *[]TokenSpec }

func (t *tokenList) String() string { return "" }

// Set parses TOKEN[:USER], splitting on the last ':'.
func (t *tokenList) Set(v string) error {
	spec := TokenSpec{Token: v}
	if i := strings.LastIndex(v, ":"); i >= 0 {
		spec.Token, spec.User = v[:i], v[i+1:]
		if spec.User == "" {
			return fmt.Errorf("TOKEN:USER with an empty USER")
		}
	}
	if spec.Token == "" {
		return fmt.Errorf("empty token")
	}
	*t.list = append(*t.list, spec)
	return nil
}
