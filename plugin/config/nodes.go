package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// pair is one mapping entry.
type pair struct {
	key  string
	k, v *yaml.Node
}

// deref follows aliases (*anchor) to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// maxMergeCost bounds the work of expanding merge keys, which can grow
// exponentially with nested aliases: each merge costs one plus the entries
// it brings in. Entries written out in the file cost nothing here (the
// file's size bounds them), so a long list of plain profiles always loads.
const maxMergeCost = 100_000

// pairs returns the entries of mapping n in file order, reporting
// duplicate keys and expanding merge keys (`<<: *defaults`): merged
// entries come after the explicit ones and never override them. hide
// keeps keys out of messages, for mappings where a key may be a secret.
func (ps *parser) pairs(n *yaml.Node, w where, hide bool) []pair {
	if ps.merging[n] {
		ps.fail(n, w, "<< merges a mapping into itself")
		return nil
	}
	ps.merging[n] = true
	defer delete(ps.merging, n)
	var own, merged []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			ps.fail(k, w, "a key must be a plain string")
		case k.ShortTag() == "!!merge":
			merged = append(merged, ps.mergeSources(v, w, hide)...)
		case seen[k.Value] != nil && hide:
			ps.fail(k, w, "a key is set twice (first at line %d)", seen[k.Value].Line)
		case seen[k.Value] != nil:
			ps.fail(k, w, "key %q is set twice (first at line %d)", k.Value, seen[k.Value].Line)
		default:
			seen[k.Value] = k
			own = append(own, pair{k.Value, k, v})
		}
	}
	for _, m := range merged {
		if seen[m.key] == nil {
			seen[m.key] = m.k
			own = append(own, m)
		}
	}
	return own
}

// mergeSources returns the entries a merge key brings in: one mapping, or
// a list of mappings where earlier ones win.
func (ps *parser) mergeSources(v *yaml.Node, w where, hide bool) []pair {
	switch v.Kind {
	case yaml.MappingNode:
		return ps.merge(v, w, hide)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range v.Content {
			if item = deref(item); item.Kind != yaml.MappingNode {
				ps.fail(item, w, "<< must merge a mapping or a list of mappings")
				continue
			}
			out = append(out, ps.merge(item, w, hide)...)
		}
		return out
	default:
		ps.fail(v, w, "<< must merge a mapping or a list of mappings")
		return nil
	}
}

// merge expands one merged mapping, charging it to the merge budget.
func (ps *parser) merge(m *yaml.Node, w where, hide bool) []pair {
	if ps.mergeCost > maxMergeCost {
		return nil // reported once, when the budget ran out
	}
	if ps.mergeCost += 1 + len(m.Content)/2; ps.mergeCost > maxMergeCost {
		ps.fail(m, w, "<< merges expand to more than %d entries (anchors merged into anchors multiply): "+
			"merge fewer levels, or write the entries out", maxMergeCost)
		return nil
	}
	return ps.pairs(m, w, hide)
}

// kindName describes a node for "must be a string, not a list".
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value of type " + strings.TrimPrefix(n.ShortTag(), "!!")
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// str accepts any non-empty scalar (so `org: 123` is the string "123").
func (ps *parser) str(n *yaml.Node, w where, dst *string) bool {
	switch {
	case isNull(n) || (n.Kind == yaml.ScalarNode && n.Value == ""):
		ps.fail(n, w, "must not be empty")
	case n.Kind != yaml.ScalarNode:
		ps.fail(n, w, "must be a string, not a %s", kindName(n))
	default:
		*dst = n.Value
		return true
	}
	return false
}

// roles accepts one role name or a list of them (max_role).
func (ps *parser) roles(n *yaml.Node, w where, dst *[]string) bool {
	if n.Kind != yaml.SequenceNode {
		var one string
		if !ps.str(n, w, &one) {
			return false
		}
		*dst = []string{one}
		return true
	}
	if len(n.Content) == 0 {
		ps.fail(n, w, "must name at least one role")
		return false
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		var r string
		if !ps.str(c, w, &r) {
			return false
		}
		out = append(out, r)
	}
	*dst = out
	return true
}

func (ps *parser) boolean(n *yaml.Node, w where, dst *bool) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			*dst = b
			return true
		}
	}
	ps.fail(n, w, "must be true or false")
	return false
}

// bounds are what a duration key accepts: zero (meaning "off" or "the
// default") only when zeroOK, else at least min.
type bounds struct {
	min    time.Duration
	zeroOK bool
}

// duration accepts Go durations ("90s", "15m", "1h30m") within b, never
// negative. A bad value is not echoed: in a secret reference, `timeout:`
// may hold what was meant for another line.
func (ps *parser) duration(n *yaml.Node, w where, dst *time.Duration, b bounds) bool {
	var s string
	if !ps.str(n, w, &s) {
		return false
	}
	d, err := time.ParseDuration(s)
	switch {
	case n.ShortTag() == "!!int" && s != "0":
		ps.fail(n, w, "needs a unit (value not shown): write e.g. 30s, 15m or 1h")
	case err != nil:
		ps.fail(n, w, "is not a duration (value not shown): use a number with a unit, e.g. 90s, 15m, 1h30m")
	case d < 0:
		ps.fail(n, w, "must not be negative")
	case d == 0 && !b.zeroOK:
		ps.fail(n, w, "must be greater than zero")
	case d != 0 && d < b.min:
		ps.fail(n, w, "%s (value not shown)", b.tooShort())
	default:
		*dst = d
		return true
	}
	return false
}

// tooShort says what a value below b.min should be instead.
func (b bounds) tooShort() string {
	if b.zeroOK {
		return fmt.Sprintf("must be at least %s, or 0 to turn it off", b.min)
	}
	return fmt.Sprintf("must be at least %s", b.min)
}

// url stores the URL without trailing slashes; Validate checks it.
func (ps *parser) url(n *yaml.Node, w where, dst *string) bool {
	var s string
	if !ps.str(n, w, &s) {
		return false
	}
	*dst = strings.TrimRight(s, "/")
	return true
}

// path expands "~/" and makes relative paths relative to the directory
// of the config file, so the file means the same from any working
// directory.
func (ps *parser) path(n *yaml.Node, w where, dst *string) bool {
	var s string
	if !ps.str(n, w, &s) {
		return false
	}
	p, err := ps.expand(s)
	if err != nil {
		ps.fail(n, w, "%v", err)
		return false
	}
	*dst = p
	return true
}

func (ps *parser) expand(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, "~/"); ok {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("could not expand ~: %w", err)
		}
		return filepath.Join(h, rest), nil
	}
	if filepath.IsAbs(s) {
		return filepath.Clean(s), nil
	}
	return filepath.Join(ps.dir, s), nil
}

// closest returns the candidate within edit distance 2 of key, if any.
func closest(key string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(key, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
