package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse parses and validates a profiles file held in memory. filename is
// used in error messages and as the base of relative paths (the current
// directory when empty). All problems are reported at once, sorted by
// line, as *Error values joined with errors.Join.
func Parse(data []byte, filename string) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(filename)
	}
	ps, err := newParser(filename)
	if err != nil {
		return nil, err
	}
	root, perr := decodeDocument(data)
	if perr != nil {
		perr.File = filename
		return nil, perr
	}
	cfg := &Config{Agent: Agent{IdleTimeout: DefaultIdleTimeout}, Profiles: map[string]*Profile{}}
	if filename != "" {
		cfg.Path = filepath.Join(ps.dir, filepath.Base(filename))
	}
	ps.root(root, cfg)
	ps.mergeVault(cfg)
	for _, p := range cfg.Profiles {
		ps.errs = append(ps.errs, ps.notDerived(p.Name, p.validate())...)
	}
	if err := joinErrors(ps.errs); err != nil {
		return nil, err
	}
	return cfg, nil
}

// joinErrors sorts errs by position and joins them; nil when empty.
func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeDocument returns the single document's top node, nil for an empty
// file, or a syntax error with its line.
func decodeDocument(data []byte) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, syntaxError(err, data)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Line: extra.Line, Column: extra.Column, Msg: "only one YAML document is allowed"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(err, data)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// yamlAnchor finds the anchor name yaml.v3 quotes in "unknown anchor 'x'
// referenced": `password: *Summer2024` makes the password an alias.
var yamlAnchor = regexp.MustCompile(`anchor '([^']*)'`)

// syntaxError converts a yaml.v3 error, hiding the anchor names it quotes.
func syntaxError(err error, data []byte) *Error {
	line, msg := 0, strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if m := yamlAnchor.FindStringSubmatch(msg); m != nil {
		if line == 0 {
			line = aliasLine(data, m[1])
		}
		msg = strings.Replace(msg, m[0], "anchor (name not shown)", 1) +
			"; quote a value that starts with * or &"
	}
	return &Error{Line: line, Msg: "invalid YAML: " + msg}
}

// aliasLine returns the first line that refers to *name, or 0.
func aliasLine(data []byte, name string) int {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(l, []byte("*"+name)) {
			return i + 1
		}
	}
	return 0
}

// parser walks the YAML tree, converting values and collecting errors.
type parser struct {
	file string   // as given, for messages
	dir  string   // absolute directory relative paths are based on
	errs []*Error // every problem found so far
	// merging holds the mappings being expanded, to catch <<: cycles;
	// mergeCost counts the merges and the entries they brought in, to
	// bound the expansion (see maxMergeCost).
	merging   map[*yaml.Node]bool
	mergeCost int
	// suggested holds, per profile, the keys an unknown key was taken
	// for ("usernme": username): a missing-field error of such a key is
	// the typo's echo, not a problem of its own.
	suggested map[string]map[string]bool
	// listedAt is the line of the one error that lists the valid keys.
	listedAt int
	// vaultOwn are the {vault: …} references with connection keys of
	// their own, merged over the top-level block at the end.
	vaultOwn []ownConn
}

func newParser(filename string) (*parser, error) {
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, fmt.Errorf("could not resolve the config directory: %w", err)
	}
	return &parser{file: filename, dir: dir, merging: map[*yaml.Node]bool{}, suggested: map[string]map[string]bool{}}, nil
}

// where names the profile and field a value belongs to.
type where struct{ profile, field string }

func (w where) sub(key string) where { return where{w.profile, w.field + "." + key} }

func (ps *parser) fail(n *yaml.Node, w where, format string, args ...any) {
	ps.errs = append(ps.errs, &Error{
		File: ps.file, Line: n.Line, Column: n.Column,
		Profile: w.profile, Field: w.field, Msg: fmt.Sprintf(format, args...),
	})
}

// topKeys are the valid top-level keys; keys starting with "x-" are also
// accepted and ignored, to hold anchors (`x-lab: &lab {…}`).
var topKeys = []string{"agent", "profiles", "proxies", "vault"}

func (ps *parser) root(n *yaml.Node, cfg *Config) {
	if n == nil {
		ps.errs = append(ps.errs, &Error{File: ps.file, Msg: "the file is empty: " + noProfilesHelp})
		return
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		ps.fail(n, where{}, "the top level must be a mapping with the keys %s", strings.Join(topKeys, ", "))
		return
	}
	var profiles *pair
	for _, p := range ps.pairs(n, where{}, false) {
		switch p.key {
		case "agent":
			ps.agent(p.v, &cfg.Agent)
		case "proxies":
			ps.proxies(p.v, cfg)
		case "profiles":
			profiles = &p
		case "vault":
			ps.vaultBlock(p.v, cfg)
		default:
			if strings.HasPrefix(p.key, "x-") {
				continue // extension keys hold YAML anchors for <<: merges
			}
			ps.unknown(p.k, where{}, p.key, []string{"agent", "profiles", "proxies", "vault", "x-… (anchors for <<: merges)"})
		}
	}
	if profiles == nil {
		ps.fail(n, where{}, "no profiles key: %s", noProfilesHelp)
		return
	}
	ps.profiles(profiles.v, cfg)
	ps.checkProxies(cfg)
}

const noProfilesHelp = "define at least one profile, e.g. " +
	"profiles: {sddc: {provider: vcf, url: https://sddc-manager.example.com, username: NAME, password: {env: VCF_PASSWORD}}}"

var agentKeys = []string{"idle_timeout"}

func (ps *parser) agent(n *yaml.Node, a *Agent) {
	w := where{field: "agent"}
	if isNull(n) {
		return // `agent:` with nothing under it keeps the defaults
	}
	if n.Kind != yaml.MappingNode {
		ps.fail(n, w, "must be a mapping, e.g. agent: {idle_timeout: 15m}")
		return
	}
	for _, p := range ps.pairs(n, w, false) {
		switch p.key {
		case "idle_timeout":
			ps.duration(p.v, w.sub(p.key), &a.IdleTimeout, bounds{min: MinIdleTimeout})
		default:
			ps.unknown(p.k, w, p.key, agentKeys)
		}
	}
}

var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (ps *parser) profiles(n *yaml.Node, cfg *Config) {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		ps.fail(n, where{field: "profiles"}, "must be a mapping of profile names to settings: %s", noProfilesHelp)
		return
	}
	for _, p := range ps.pairs(n, where{field: "profiles"}, false) {
		w := where{profile: p.key}
		if !profileName.MatchString(p.key) {
			ps.fail(p.k, w, "a profile name must start with a letter or digit and contain only letters, digits, '.', '_' and '-'")
		}
		if p.v.Kind != yaml.MappingNode {
			ps.fail(p.v, w, "must be a mapping of settings (provider, url, …)")
			continue
		}
		cfg.Profiles[p.key] = ps.profile(p, w)
	}
}

func (ps *parser) profile(p pair, w where) *Profile {
	pr := &Profile{
		Name: p.key, Line: p.k.Line, Timeout: DefaultTimeout,
		file: ps.file, pos: map[string]position{}, bad: map[string]bool{},
	}
	for _, f := range ps.pairs(p.v, w, false) {
		set, ok := profileSetters[f.key]
		if !ok {
			ps.unknown(f.k, w, f.key, profileKeys)
			continue
		}
		pr.pos[f.key] = position{f.k.Line, f.k.Column}
		if !set(ps, pr, f.v, where{w.profile, f.key}) {
			pr.bad[f.key] = true
		}
	}
	return pr
}

// setter converts one profile value into pr, reporting problems; it
// returns false when the value was rejected.
type setter func(ps *parser, pr *Profile, n *yaml.Node, w where) bool

var profileSetters = map[string]setter{
	"provider": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.str(n, w, &pr.Provider) },
	"url":      func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.url(n, w, &pr.URL) },
	"ca_file":  func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.path(n, w, &pr.CAFile) },
	"insecure_skip_verify": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool {
		return ps.boolean(n, w, &pr.InsecureSkipVerify)
	},
	"timeout": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool {
		return ps.duration(n, w, &pr.Timeout, bounds{min: MinTimeout})
	},
	"username": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.str(n, w, &pr.Username) },
	"password": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.ref(n, w, &pr.Password) },
	"api_key":  func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.ref(n, w, &pr.APIKey) },
	"refresh_before": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool {
		return ps.duration(n, w, &pr.RefreshBefore, bounds{zeroOK: true})
	},
	"org":             func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.str(n, w, &pr.Org) },
	"api_version":     func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.str(n, w, &pr.APIVersion) },
	"api_token":       func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.ref(n, w, &pr.APIToken) },
	"service_account": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.ref(n, w, &pr.ServiceAccount) },
	"legacy_login":    func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.boolean(n, w, &pr.LegacyLogin) },
	"keepalive": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool {
		return ps.duration(n, w, &pr.Keepalive, bounds{min: MinKeepalive, zeroOK: true})
	},
	"idle_timeout": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool {
		return ps.duration(n, w, &pr.IdleTimeout, bounds{min: minIdleTimeout})
	},
	"max_role": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.roles(n, w, &pr.MaxRole) },
	"mount":    func(ps *parser, pr *Profile, n *yaml.Node, w where) bool { return ps.mount(n, w, &pr.Mount) },
	"name": func(ps *parser, pr *Profile, n *yaml.Node, w where) bool {
		return ps.engineName(n, w, &pr.EngineProfile)
	},
}

// engineProfileName is what the engine accepts as a profile name
// (framework.GenericNameRegex).
var engineProfileName = regexp.MustCompile(`^\w(([\w-.]+)?\w)?$`)

// engineName is the name of a profile of the Vault engine.
func (ps *parser) engineName(n *yaml.Node, w where, dst *string) bool {
	var s string
	if !ps.str(n, w, &s) {
		return false
	}
	if !engineProfileName.MatchString(s) {
		ps.fail(n, w, "must be a profile name of the engine: letters, digits, '_', '-' and '.', e.g. sddc")
		return false
	}
	*dst = s
	return true
}

// profileKeys lists the valid profile keys, sorted, for error messages.
var profileKeys = func() []string {
	keys := make([]string, 0, len(profileSetters))
	for k := range profileSetters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}()

// unknown reports a key that is not one of valid, with a suggestion when
// the key looks like a typo of a valid one. The valid keys are listed
// once, in the first error without a suggestion; later ones point there.
func (ps *parser) unknown(k *yaml.Node, w where, key string, valid []string) {
	if s := closest(key, valid); s != "" {
		if w.profile != "" {
			if ps.suggested[w.profile] == nil {
				ps.suggested[w.profile] = map[string]bool{}
			}
			ps.suggested[w.profile][s] = true
		}
		ps.fail(k, w, "unknown key %q (did you mean %q?)", key, s)
		return
	}
	if ps.listedAt != 0 {
		ps.fail(k, w, "unknown key %q (the valid keys are listed at line %d)", key, ps.listedAt)
		return
	}
	ps.listedAt = k.Line
	ps.fail(k, w, "unknown key %q; valid keys: %s", key, strings.Join(valid, ", "))
}

// notDerived drops from a profile's validation errors those about a
// missing key an unknown key of the profile was taken for: "usernme"
// already says what "username is required" would.
func (ps *parser) notDerived(profile string, errs []*Error) []*Error {
	typo := ps.suggested[profile]
	if len(typo) == 0 {
		return errs
	}
	out := errs[:0]
	for _, e := range errs {
		if !typo[e.Field] {
			out = append(out, e)
		}
	}
	return out
}
