package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// explained marks flag values whose Set errors are whole sentences that
// name the flag (and never echo a secret value): explainFlagError shows
// them as they are.
type explained interface{ explained() }

// explainFlagError rewrites the flag package's messages, which spell
// flags "-name", with "--name" as help does, and never repeats a value
// of a flag that may hold a secret.
func explainFlagError(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag --%s", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("flag --%s needs a value", name)
	}
	if rest, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return fmt.Errorf("bad flag syntax: %s", rest)
	}
	for _, p := range [][2]string{{"invalid value ", " for flag -"}, {"invalid boolean value ", " for -"}} {
		rest, ok := strings.CutPrefix(msg, p[0])
		if !ok {
			continue
		}
		value, qerr := strconv.QuotedPrefix(rest)
		if qerr != nil {
			break
		}
		name, why, ok := strings.Cut(strings.TrimPrefix(rest[len(value):], p[1]), ": ")
		if !ok {
			break
		}
		f := fs.Lookup(name)
		if f == nil {
			break
		}
		if _, ok := f.Value.(explained); ok {
			return errors.New(why)
		}
		return fmt.Errorf("invalid value %s for --%s: %s", value, name, wantOf(f, why))
	}
	return err
}

// wantOf turns the flag package's bare "parse error" into what the flag wants.
func wantOf(f *flag.Flag, why string) string {
	g, ok := f.Value.(flag.Getter)
	if !ok || why != "parse error" {
		return why
	}
	switch g.Get().(type) {
	case time.Duration:
		return "want a duration like 90s, 60m or 24h"
	case bool:
		return "want true or false"
	}
	return why
}

// printFlags lists the flags GNU-style (--name), as the docs spell them,
// leaving out the shared flags that do not apply; help is wrapped.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if _, hidden := f.Value.(notApplicable); hidden {
			return
		}
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
		fmt.Fprint(w, wrap(line, help, 36, 100))
	})
}

// wrap puts help after head in a column at indent, folded at width; a
// head reaching the column gets the help on the lines below.
func wrap(head, help string, indent, width int) string {
	var b strings.Builder
	b.WriteString(head)
	col := len([]rune(head))
	if head != "" && col >= indent-1 {
		b.WriteString("\n")
		col = 0
	}
	for i, word := range strings.Fields(help) {
		n := len([]rune(word))
		if i > 0 && col+1+n > width {
			b.WriteString("\n")
			col = 0
		}
		switch {
		case col < indent:
			b.WriteString(strings.Repeat(" ", indent-col))
			col = indent
		case col > 0:
			b.WriteString(" ")
			col++
		}
		b.WriteString(word)
		col += n
	}
	b.WriteString("\n")
	return b.String()
}

// notApplicable stands for a shared flag the chosen simulator does not
// take: any value is refused with the reason.
type notApplicable struct{ flag, sim, why string }

func (notApplicable) explained()     {}
func (notApplicable) String() string { return "" }
func (n notApplicable) Set(string) error {
	return fmt.Errorf("--%s does not apply to the %s simulator: %s", n.flag, n.sim, n.why)
}

// intChoice is an integer flag limited to a few values.
type intChoice struct {
	flag    string
	allowed []int
	v       *int
}

func newIntChoice(v *int, flag string, def int, allowed ...int) *intChoice {
	*v = def
	return &intChoice{flag: flag, allowed: allowed, v: v}
}

func (*intChoice) explained() {}

func (c *intChoice) String() string {
	if c == nil || c.v == nil {
		return ""
	}
	return strconv.Itoa(*c.v)
}

func (c *intChoice) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || !slices.Contains(c.allowed, n) {
		return fmt.Errorf("--%s %s: want %s", c.flag, strconv.Quote(s), c.choices())
	}
	*c.v = n
	return nil
}

func (c *intChoice) choices() string {
	s := make([]string, len(c.allowed))
	for i, n := range c.allowed {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, "|")
}

// userList is the repeatable --user flag.
type userList struct {
	roles []string
	list  *[]UserSpec
}

func (*userList) explained()       {}
func (u *userList) String() string { return "" }

// Set parses NAME=PASSWORD[:ROLE]: NAME ends at the first '='. A suffix
// after the last ':' that names a known role is the role; one that looks
// like a role but is none is an error listing the roles; anything else
// is part of the password, so passwords may contain '=' and ':'. Errors
// never repeat the password or any part of it.
func (u *userList) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("--user wants NAME=PASSWORD[:ROLE]")
	}
	spec := UserSpec{Name: name, Password: rest}
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		role, err := matchRole(u.roles, rest[i+1:])
		if err != nil {
			return fmt.Errorf("--user %s: %w", name, err)
		}
		if role != "" {
			spec.Password, spec.Role = rest[:i], role
		}
	}
	if spec.Password == "" {
		return fmt.Errorf("--user %s: empty password", name)
	}
	*u.list = append(*u.list, spec)
	return nil
}

// matchRole returns the role s names ("" when s is no role, so part of
// the password) or an error when s looks like a role but is not a known one.
func matchRole(roles []string, s string) (string, error) {
	var guess string
	for _, r := range roles {
		if normRole(s) == normRole(r) {
			return r, nil
		}
		if guess == "" && (abbreviates(s, r) || abbreviates(splitCamel(s), r)) {
			guess = r
		}
	}
	if guess == "" && !looksLikeRole(s) {
		return "", nil
	}
	hint := ""
	if guess != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", guess)
	}
	return "", fmt.Errorf("the text after the last ':' looks like a role but is not one%s; roles: %s. "+
		"A password that ends in such text needs an explicit role: PASSWORD:ROLE", hint, quoteRoles(roles))
}

// normRole folds case and treats '_' and '-' as spaces.
func normRole(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return ' '
		}
		return unicode.ToLower(r)
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// abbreviates tells whether s and role agree word by word up to the
// shorter word (three letters at least): ORG_ADMIN for "Organization
// Administrator", VIEW or ADMINISTRATOR for VIEWER or ADMIN.
func abbreviates(s, role string) bool {
	sw, rw := strings.Fields(normRole(s)), strings.Fields(normRole(role))
	if len(sw) != len(rw) || len(sw) == 0 {
		return false
	}
	for i := range sw {
		if len(sw[i]) < 3 || (!strings.HasPrefix(rw[i], sw[i]) && !strings.HasPrefix(sw[i], rw[i])) {
			return false
		}
	}
	return true
}

// splitCamel puts a space before each upper-case letter that follows a
// lower-case one: "OrgAdmin" is "Org Admin".
func splitCamel(s string) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range s {
		if unicode.IsUpper(r) && unicode.IsLower(prev) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// camelWords matches one word of two or more capitalised parts, like
// "OrgAdmin" or "vAppUser": letters only.
var camelWords = regexp.MustCompile(`^[A-Za-z][a-z]*([A-Z][a-z]+)+$`)

// looksLikeRole: ALL_CAPS (letters and underscores, two or more), a
// CamelCase word ("OrgAdmin"), or two or more Capitalised words separated
// by spaces, like "Org Admin".
func looksLikeRole(s string) bool {
	if len(s) >= 2 && strings.ContainsFunc(s, unicode.IsLetter) &&
		!strings.ContainsFunc(s, func(r rune) bool { return r != '_' && (r < 'A' || r > 'Z') }) {
		return true
	}
	if camelWords.MatchString(s) {
		return true
	}
	words := strings.Split(s, " ")
	if len(words) < 2 {
		return false
	}
	for _, w := range words {
		if w == "" || !unicode.IsUpper(rune(w[0])) || strings.ContainsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) }) {
			return false
		}
	}
	return true
}

func quoteRoles(roles []string) string {
	q := make([]string, len(roles))
	for i, r := range roles {
		q[i] = r
		if strings.Contains(r, " ") {
			q[i] = strconv.Quote(r)
		}
	}
	return strings.Join(q, ", ")
}

// tokenList is the repeatable --api-token / --service-account flag.
type tokenList struct {
	flag string
	list *[]TokenSpec
}

func (*tokenList) explained()       {}
func (t *tokenList) String() string { return "" }

// Set parses TOKEN[:USER], splitting on the last ':'. Errors never
// repeat the token.
func (t *tokenList) Set(v string) error {
	spec := TokenSpec{Token: v}
	if i := strings.LastIndex(v, ":"); i >= 0 {
		spec.Token, spec.User = v[:i], v[i+1:]
		if spec.User == "" {
			return fmt.Errorf("--%s TOKEN:USER with an empty USER", t.flag)
		}
	}
	if spec.Token == "" {
		return fmt.Errorf("--%s: empty token", t.flag)
	}
	*t.list = append(*t.list, spec)
	return nil
}
