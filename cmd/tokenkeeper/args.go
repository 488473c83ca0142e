package main

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// call is a command line the front serves itself: one of the verbs on
// every pipeline's path with flags it knows.
type call struct {
	verb         string
	profile      string
	minValidity  time.Duration
	forceRefresh bool
	allowShorter bool
	format       string
	timeout      time.Duration
	config       string
	fingerprint  string
	reason       string
	// argv is exec's command.
	argv []string
	// set are the flags given, by long name.
	set []string
}

// given reports whether the flag name was on the command line.
func (c *call) given(name string) bool { return slices.Contains(c.set, name) }

// verbFlags are the flags the front knows, per verb (nil for a verb it
// does not serve): the core's flags of that verb less those whose work
// lives in the core (--no-agent, --verbose, --help, --log-level, exec
// --proxy…). A switch over static lists, not a map: a map would be
// built by an init function at every start.
func verbFlags(verb string) []string {
	switch verb {
	case "get":
		return getFlags
	case "invalidate":
		return invalidateFlags
	case "env", "exec":
		return withTokenFlags
	}
	return nil
}

var (
	getFlags        = []string{"profile", "min-validity", "force-refresh", "allow-shorter", "format", "timeout", "config"}
	invalidateFlags = []string{"profile", "fingerprint", "reason", "timeout", "config"}
	withTokenFlags  = []string{"profile", "min-validity", "allow-shorter", "timeout", "config"}
)

// shorthand is the long name of a one-letter flag ("" for none).
func shorthand(a string) string {
	switch a {
	case "-p":
		return "profile"
	case "-o":
		return "format"
	}
	return ""
}

// boolFlags take no value.
var boolFlags = []string{"force-refresh", "allow-shorter"}

// defaultTimeout is the core's --timeout default.
const defaultTimeout = 2 * time.Minute

// parse reads args (without the program name) as a call the front
// serves (on the heap: the frames under which the front works stay
// small, see ask), or says no: anything it does not know as the core would read it
// — another verb, an unknown or repeated flag, a value the core would
// refuse (its message is the core's to give) — goes to the core.
func parse(args []string) (*call, bool) {
	if len(args) == 0 || verbFlags(args[0]) == nil {
		return nil, false
	}
	c := &call{verb: args[0], format: exec.FormatJSON, timeout: defaultTimeout}
	rest := args[1:]
	for len(rest) > 0 {
		a := rest[0]
		rest = rest[1:]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			if c.verb != "exec" {
				return nil, false // the core's "unexpected argument"
			}
			if a == "--" {
				c.argv = rest
			} else {
				c.argv = append([]string{a}, rest...)
			}
			break
		}
		name, value, hasValue := flagOf(a)
		if name == "" || !slices.Contains(verbFlags(c.verb), name) || c.given(name) {
			return nil, false
		}
		if !hasValue && !slices.Contains(boolFlags, name) {
			if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
				return nil, false
			}
			value, rest = rest[0], rest[1:]
		}
		if !c.setFlag(name, value, hasValue) {
			return nil, false
		}
		c.set = append(c.set, name)
	}
	if c.verb == "exec" && len(c.argv) == 0 {
		return nil, false // the core says how exec is called
	}
	return c, true
}

// flagOf splits "--name=value", "--name" and "-p" into the long name and
// the value given with it; "" for a form the front leaves to the core
// ("-pNAME", unknown shorthands).
func flagOf(a string) (name, value string, hasValue bool) {
	if long, ok := strings.CutPrefix(a, "--"); ok {
		name, value, hasValue = strings.Cut(long, "=")
		return name, value, hasValue
	}
	return shorthand(a), "", false
}

// setFlag stores one flag's value; false for a value the core would
// refuse or read differently.
func (c *call) setFlag(name, value string, hasValue bool) bool {
	switch name {
	case "force-refresh", "allow-shorter":
		on := !hasValue || value == "true"
		if hasValue && value != "true" && value != "false" {
			return false
		}
		if name == "force-refresh" {
			c.forceRefresh = on
		} else {
			c.allowShorter = on
		}
		return true
	case "min-validity", "timeout":
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 || name == "timeout" && d == 0 {
			return false
		}
		if name == "timeout" {
			c.timeout = d
		} else {
			c.minValidity = d
		}
		return true
	case "format":
		c.format = value
		return exec.ValidFormat(value)
	}
	if value == "" || !utf8.ValidString(value) {
		return false // the core refuses non-UTF-8 text flags without echoing them
	}
	switch name {
	case "profile":
		c.profile = value
	case "config":
		c.config = value
	case "fingerprint":
		c.fingerprint = value
	case "reason":
		c.reason = value
	}
	return true
}
