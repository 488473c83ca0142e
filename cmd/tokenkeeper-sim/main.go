// Command tokenkeeper-sim runs a faithful simulator of an upstream token
// API (VCF SDDC Manager, VMware Cloud Director, vCenter) for demos, end-to-end tests
// and users trying tokenkeeper without a lab:
//
//	tokenkeeper-sim vcf|vcd|vcenter [--listen 127.0.0.1:0] [--tls] [--ca-out FILE]
//	    [--user NAME=PASSWORD[:ROLE]]… [--access-ttl 60m] [--refresh-ttl 24h]
//	    [--idle-timeout 30m] [--api-token TOKEN[:USER]]… [--service-account TOKEN[:USER]]…
//
// Every flag is optional: without --user, --api-token or --service-account
// the simulator creates demo users and prints their random passwords on
// stderr. When ready it prints one JSON line on stdout, {"url":…,"caFile":…},
// logs one line per request on stderr, and runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/version"
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

// Simulator is one subcommand; simulators lists them all.
type Simulator struct {
	Name    string
	Summary string
	// UserName is how --user spells NAME in help ("NAME", "user@org").
	UserName string
	// Roles are the role names --user accepts after the last ':'
	// (case, '_' and '-' versus ' ' do not matter).
	Roles []string
	// RoleNote tells the default role, for help.
	RoleNote string
	// NotApplicable maps each shared flag this simulator does not take
	// to the reason; such a flag is hidden from help and refused.
	NotApplicable map[string]string
	// DemoUsers are created, with random passwords printed on stderr,
	// when no --user, --api-token or --service-account is given.
	DemoUsers []UserSpec
	// TokenOwnerNote tells who owns a token given without an owner.
	TokenOwnerNote string
	// Setup registers the simulator's own flags on fs and returns the
	// constructor to call once all flags are parsed.
	Setup func(fs *flag.FlagSet) func(c Common) (sim.Backend, error)
}

// simulators is the registry of subcommands, in the order help lists them.
func simulators() []Simulator { return []Simulator{vcfSimulator(), vcdSimulator(), vcenterSimulator()} }

// lookup finds a simulator by name.
func lookup(name string) (Simulator, bool) {
	for _, s := range simulators() {
		if s.Name == name {
			return s, true
		}
	}
	return Simulator{}, false
}

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
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintf(stdout, "tokenkeeper-sim %s\n", version.String())
		return 0
	}
	s, ok := lookup(args[0])
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
	sims := simulators()
	names := make([]string, len(sims))
	for i, s := range sims {
		names[i] = s.Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "usage: tokenkeeper-sim %s [flags]\n\nSimulators:\n", strings.Join(names, "|"))
	for _, s := range sims {
		fmt.Fprintf(&b, "  %-8s %s\n", s.Name, s.Summary)
	}
	b.WriteString("\nEvery flag is optional. Run 'tokenkeeper-sim NAME --help' for its flags;\n'tokenkeeper-sim --version' prints the release.\n")
	return b.String()
}

// parse reads the shared and the simulator's own flags and builds the
// backend. flag.ErrHelp means help was printed on stdout. Demo users'
// credentials, when made, are printed on stderr.
func parse(s Simulator, args []string, stdout, stderr io.Writer) (sim.Backend, Common, error) {
	c := Common{AccessTTL: 60 * time.Minute, RefreshTTL: 24 * time.Hour, IdleTimeout: 30 * time.Minute}
	fs := flag.NewFlagSet("tokenkeeper-sim "+s.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	defineShared(fs, s, &c)
	build := s.Setup(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, s, fs)
		}
		return nil, c, explainFlagError(fs, err)
	}
	if fs.NArg() > 0 {
		return nil, c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"access-ttl", c.AccessTTL}, {"refresh-ttl", c.RefreshTTL}, {"idle-timeout", c.IdleTimeout}} {
		if d.v <= 0 {
			return nil, c, fmt.Errorf("--%s must be positive", d.name)
		}
	}
	if c.Run.CAOut != "" && !c.Run.TLS {
		return nil, c, fmt.Errorf("--ca-out needs --tls")
	}
	demo := len(c.Users)+len(c.APITokens)+len(c.ServiceAccounts) == 0
	if demo {
		c.Users = demoUsers(s.DemoUsers)
	}
	b, err := build(c)
	if err == nil && demo {
		printDemoUsers(stderr, s.Name, c.Users)
	}
	return b, c, err
}

// defineShared registers the flags every simulator shares; one that does
// not apply to s is registered hidden, refusing any value with the reason.
func defineShared(fs *flag.FlagSet, s Simulator, c *Common) {
	fs.StringVar(&c.Run.Listen, "listen", "127.0.0.1:0", "address to listen on")
	fs.BoolVar(&c.Run.TLS, "tls", false, "serve HTTPS with a fresh self-signed CA")
	fs.StringVar(&c.Run.CAOut, "ca-out", "", "write the CA certificate (PEM) to `FILE` (with --tls; default a temporary file)")
	fs.Var(&userList{roles: s.Roles, list: &c.Users}, "user", userUsage(s))
	shared := []struct {
		name   string
		define func(name string)
	}{
		{"access-ttl", func(n string) { fs.DurationVar(&c.AccessTTL, n, c.AccessTTL, "access token lifetime") }},
		{"refresh-ttl", func(n string) { fs.DurationVar(&c.RefreshTTL, n, c.RefreshTTL, "refresh token lifetime, from issue") }},
		{"idle-timeout", func(n string) { fs.DurationVar(&c.IdleTimeout, n, c.IdleTimeout, "session idle timeout") }},
		{"api-token", func(n string) {
			fs.Var(&tokenList{flag: n, list: &c.APITokens}, n, "an API token `TOKEN[:"+s.UserName+"]`, repeatable; "+s.TokenOwnerNote)
		}},
		{"service-account", func(n string) {
			fs.Var(&tokenList{flag: n, list: &c.ServiceAccounts}, n, "a service-account refresh token `TOKEN[:"+s.UserName+"]`, repeatable; rotated on every exchange; "+s.TokenOwnerNote)
		}},
	}
	for _, f := range shared {
		if why, ok := s.NotApplicable[f.name]; ok {
			fs.Var(notApplicable{flag: f.name, sim: s.Name, why: why}, f.name, "")
			continue
		}
		f.define(f.name)
	}
}

// userUsage is the help of --user, naming every role.
func userUsage(s Simulator) string {
	roles := make([]string, len(s.Roles))
	for i, r := range s.Roles {
		roles[i] = r
		if strings.Contains(r, " ") {
			roles[i] = `"` + r + `"`
		}
	}
	return fmt.Sprintf("a user `%s=PASSWORD[:ROLE]`, repeatable; ROLE is one of %s%s. "+
		"A password may hold ':' and '='; when the text after its last ':' looks like a role, "+
		"give the role too (PASSWORD:ROLE)",
		s.UserName, strings.Join(roles, ", "), s.RoleNote)
}

// printHelp writes the simulator's help: summary, demo users, flags.
func printHelp(w io.Writer, s Simulator, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: tokenkeeper-sim %s [flags]\n\n%s\n\n", s.Name, s.Summary)
	var creds, demo []string
	for _, f := range []string{"--user", "--api-token", "--service-account"} {
		if _, no := s.NotApplicable[strings.TrimPrefix(f, "--")]; !no {
			creds = append(creds, f)
		}
	}
	for _, u := range s.DemoUsers {
		demo = append(demo, u.Name+" ("+u.Role+")")
	}
	without := creds[len(creds)-1]
	if len(creds) > 1 {
		without = strings.Join(creds[:len(creds)-1], ", ") + " or " + without
	}
	fmt.Fprint(w, wrap("", "Every flag is optional. Without "+without+
		" it creates demo users with random passwords, printed once on stderr: "+strings.Join(demo, ", ")+
		`. Stdout carries only the ready line {"url":…,"caFile":…}.`, 0, 80))
	fmt.Fprint(w, "\nFlags:\n")
	printFlags(w, fs)
}

// demoUsers gives each template user a fresh random password.
func demoUsers(templates []UserSpec) []UserSpec {
	users := make([]UserSpec, len(templates))
	for i, u := range templates {
		u.Password = rand.Text()
		users[i] = u
	}
	return users
}

// printDemoUsers tells the demo credentials, once, on stderr.
func printDemoUsers(w io.Writer, simName string, users []UserSpec) {
	fmt.Fprintf(w, "tokenkeeper-sim %s: no --user given; demo users (passwords shown only now):\n", simName)
	for _, u := range users {
		fmt.Fprintf(w, "  user %s  password %s  role %s\n", u.Name, u.Password, u.Role)
	}
}
