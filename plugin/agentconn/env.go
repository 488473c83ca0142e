package agentconn

import (
	"slices"
	"strings"
)

// tokenVars are set by `tokenkeeper exec` for its command: a `get` run
// inside it must not hand the token to an agent (and every secret command
// the agent runs) for the agent's whole life.
var tokenVars = []string{"TOKENKEEPER_TOKEN", "TOKENKEEPER_HEADER_NAME", "TOKENKEEPER_HEADER_VALUE", "TOKENKEEPER_EXPIRES_AT"}

// Environ returns environ without the variables `tokenkeeper exec` sets
// for its command (TOKENKEEPER_TOKEN, TOKENKEEPER_HEADER_VALUE, …): the
// environment an agent gets, and the one its environment tag is made of.
func Environ(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(tokenVars, name) {
			out = append(out, kv)
		}
	}
	return out
}

// TokenVars lists the variables Environ removes.
func TokenVars() []string { return slices.Clone(tokenVars) }

// Lookup is os.LookupEnv over environ (the last of duplicates wins, as in
// os/exec). It scans environ for each name rather than building a map of
// it: its callers look up the few names a configuration reads, once.
func Lookup(environ []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(environ) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
				return v, true
			}
		}
		return "", false
	}
}
