package config

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

const refHelp = "write {env: NAME}, {file: PATH}, {command: [prog, arg…]} or {vault: {path: PATH, field: KEY}}"

var refKeys = []string{"command", "env", "file", "timeout", "vault"}

// ref converts a secret reference. A literal is refused without ever
// being echoed: it is most likely the password itself.
func (ps *parser) ref(n *yaml.Node, w where, dst **secret.Ref) bool {
	switch {
	case isNull(n):
		ps.fail(n, w, "is empty; a secret is a reference: %s", refHelp)
	case n.Kind == yaml.ScalarNode:
		ps.fail(n, w, "a secret must be a reference, not a literal value (not shown here); %s. "+
			"If the literal is a real secret, remove it from this file", refHelp)
	case n.Kind != yaml.MappingNode:
		ps.fail(n, w, "must be a mapping, not a %s: %s", kindName(n), refHelp)
	default:
		r, ok := ps.refMapping(n, w)
		if ok {
			*dst = r
		}
		return ok
	}
	return false
}

func (ps *parser) refMapping(n *yaml.Node, w where) (*secret.Ref, bool) {
	r := &secret.Ref{}
	ok := true
	var timeoutKey *yaml.Node
	// Keys stay hidden: `password: {hunter2}` is a mapping whose key is the
	// password.
	for _, p := range ps.pairs(n, w, true) {
		switch p.key {
		case "env":
			ok = ps.envName(p.v, w.sub(p.key), &r.Env) && ok
		case "file":
			ok = ps.path(p.v, w.sub(p.key), &r.File) && ok
		case "command":
			ok = ps.command(p.v, w.sub(p.key), &r.Command) && ok
		case "vault":
			ok = ps.vaultRef(p.v, w.sub(p.key), &r.Vault) && ok
		case "timeout":
			timeoutKey = p.k
			ok = ps.duration(p.v, w.sub(p.key), &r.Timeout, bounds{min: MinCommandTimeout}) && ok
		default:
			ps.fail(p.k, w, "unknown key in a secret reference (not shown, in case it is the secret); valid keys: %s",
				strings.Join(refKeys, ", "))
			ok = false
		}
	}
	if !ok {
		return nil, false
	}
	switch sources(r) {
	case 0:
		ps.fail(n, w, "names no source: %s", refHelp)
		return nil, false
	case 1:
	default:
		ps.fail(n, w, "names more than one source: use exactly one of env, file, command or vault")
		return nil, false
	}
	if timeoutKey != nil && r.Command == nil {
		ps.fail(timeoutKey, w.sub("timeout"), "applies only to command references")
		return nil, false
	}
	return r, true
}

func sources(r *secret.Ref) int {
	n := 0
	for _, set := range []bool{r.Env != "", r.File != "", len(r.Command) > 0, r.Vault != nil} {
		if set {
			n++
		}
	}
	return n
}

// envName checks the variable name without echoing it: a misplaced
// password would otherwise end up in the message.
func (ps *parser) envName(n *yaml.Node, w where, dst *string) bool {
	var s string
	if !ps.str(n, w, &s) {
		return false
	}
	if !secret.IsEnvName(s) {
		ps.fail(n, w, "must be the name of an environment variable, like VCF_PASSWORD (letters, digits, _; value not shown)")
		return false
	}
	*dst = s
	return true
}

// command accepts a non-empty list of strings. A program path with a
// slash is made relative to the config file's directory; bare names are
// looked up in PATH when run.
func (ps *parser) command(n *yaml.Node, w where, dst *[]string) bool {
	if n.Kind != yaml.SequenceNode {
		ps.fail(n, w, "must be a list of the program and its arguments, e.g. {command: [pass, show, vcf/svc]} "+
			"(no shell is used; value not shown)")
		return false
	}
	if len(n.Content) == 0 {
		ps.fail(n, w, "must name a program, e.g. {command: [pass, show, vcf/svc]}")
		return false
	}
	argv := make([]string, len(n.Content))
	for i, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.ScalarNode || isNull(item) || (i == 0 && item.Value == "") {
			ps.fail(item, w, "item %d must be a non-empty string", i+1)
			return false
		}
		argv[i] = item.Value
	}
	if strings.Contains(argv[0], "/") {
		p, err := ps.expand(argv[0])
		if err != nil {
			ps.fail(n.Content[0], w, "%v", err)
			return false
		}
		argv[0] = p
	}
	*dst = argv
	return true
}
