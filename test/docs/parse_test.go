// Package docs checks that the examples of README.md and of every
// docs/*.md page work as written: every command block a user is told to
// run is extracted from its page and run with bash against the simulators
// (readme_test.go, build tag docscheck, `make docs-check`). This file
// holds the parser and its own tests, which run in the ordinary suite, as
// do the checks of the pages themselves: the package map of
// docs/development.md against `go list ./...` and the README's layout map
// against the tree (pkgmap_test.go), links and anchors (links_test.go),
// and the Go names of docs/errors.md (names_test.go).
//
// The annotation convention (documented in docs/development.md): an HTML
// comment
//
//	<!-- docs-check
//	KEY: VALUE
//	-->
//
// directly before a fenced block (blank lines may separate them) says how
// to run it. Keys: id, needs, skip, omit, replace, run, requires. ```sh,
// ```bash and ```shell blocks run without one; other blocks run only
// with a run: key. Ids are shared by all pages, so a block of one page
// may need a block of another.
package docs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// block is one fenced code block of a page.
type block struct {
	file string   // the page, relative to the repository root: README.md, docs/agent.md
	line int      // line of the opening fence
	lang string   // the fence's info string ("sh", "yaml", …)
	body []string // the lines between the fences
	ann  annotation
}

// annotation is a parsed docs-check comment.
type annotation struct {
	line     int // line of the comment; 0 when there is none
	id       string
	needs    []string
	skip     string // the reason the block is not run
	omit     []edit // lines whose command equals from are left out
	replace  []edit // text from is replaced by to in the block
	run      string // "sh" (default for shell fences), "ansible-task", "packer-build"
	requires []string
}

// edit is one omit or replace, with the reason the page gives for it.
type edit struct{ from, to, reason string }

// runners are the values of run:.
var runners = []string{"sh", "ansible-task", "packer-build"}

// shellLangs are the fences that run without an annotation.
var shellLangs = []string{"sh", "bash", "shell"}

// runnable reports whether the block is run (or skipped with a reason).
func (b block) runnable() bool { return b.ann.run != "" }

// name is how a failure names the block: page, line and id.
func (b block) name() string {
	if b.ann.id != "" {
		return fmt.Sprintf("%s:%d(%s)", b.file, b.line, b.ann.id)
	}
	return fmt.Sprintf("%s:%d", b.file, b.line)
}

// testName is the block's subtest name: name without the page's
// directory, since `go test -run` splits names at "/".
func (b block) testName() string { return strings.TrimPrefix(b.name(), "docs/") }

// parse parses one page on its own, its references included.
func parse(file string, r io.Reader) ([]block, error) {
	blocks, errs := parseFile(file, r)
	errs = append(errs, checkRefs(blocks)...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return blocks, nil
}

// parseFile returns every fenced block of the page file, with its
// annotation, and the errors of the page. Every malformed annotation is
// an error naming its line, so an edit cannot silently switch a check
// off. References between blocks are checked by checkRefs, over all pages.
func parseFile(file string, r io.Reader) ([]block, []string) {
	var (
		blocks  []block
		pending *annotation
		comment []string // lines of an open docs-check comment
		cur     *block
		errs    []string
		n       int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil:
			if trimmed == "```" {
				blocks = append(blocks, *cur)
				cur = nil
				continue
			}
			cur.body = append(cur.body, line)
		case comment != nil:
			comment = append(comment, line)
			if strings.Contains(line, "-->") {
				a, err := parseAnnotation(file, n-len(comment)+1, strings.Join(comment, "\n"))
				if err != nil {
					errs = append(errs, err.Error())
				}
				pending, comment = &a, nil
			}
		case strings.HasPrefix(trimmed, "<!--") && strings.Contains(trimmed, "docs-check"):
			if pending != nil {
				errs = append(errs, fmt.Sprintf("%s:%d: docs-check comment not followed by a code block", file, pending.line))
			}
			comment = []string{line}
			if strings.Contains(line, "-->") {
				a, err := parseAnnotation(file, n, line)
				if err != nil {
					errs = append(errs, err.Error())
				}
				pending, comment = &a, nil
			}
		case strings.HasPrefix(trimmed, "```"):
			cur = &block{file: file, line: n, lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
			if pending != nil {
				cur.ann, pending = *pending, nil
			}
			if cur.ann.run == "" && slices.Contains(shellLangs, cur.lang) {
				cur.ann.run = "sh"
			}
		case trimmed != "" && pending != nil:
			errs = append(errs, fmt.Sprintf("%s:%d: docs-check comment not followed by a code block", file, pending.line))
			pending = nil
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Sprintf("%s: %v", file, err))
	}
	if cur != nil {
		errs = append(errs, fmt.Sprintf("%s:%d: code block never closed", file, cur.line))
	}
	if pending != nil || comment != nil {
		errs = append(errs, file+": docs-check comment at the end of the file")
	}
	return blocks, errs
}

// parseAnnotation parses the text of one docs-check comment that starts
// at line line of file.
func parseAnnotation(file string, line int, text string) (annotation, error) {
	a := annotation{line: line}
	body := strings.TrimSpace(text)
	body = strings.TrimSuffix(strings.TrimPrefix(body, "<!--"), "-->")
	body = strings.TrimPrefix(strings.TrimSpace(body), "docs-check")
	body = strings.TrimPrefix(body, ":")
	var errs []string
	for i, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if err := a.set(l); err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: docs-check: %v", file, line+i, err))
		}
	}
	if len(errs) > 0 {
		return a, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return a, nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// set applies one "key: value" line.
func (a *annotation) set(l string) error {
	key, val, ok := strings.Cut(l, ":")
	if !ok {
		return fmt.Errorf("%q: want KEY: VALUE", l)
	}
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	switch key {
	case "id":
		if !idPattern.MatchString(val) {
			return fmt.Errorf("id %q: want lower-case letters, digits and '-'", val)
		}
		a.id = val
	case "needs":
		a.needs = append(a.needs, splitList(val)...)
	case "requires":
		a.requires = append(a.requires, splitList(val)...)
	case "run":
		if !slices.Contains(runners, val) {
			return fmt.Errorf("run %q: want one of %s", val, strings.Join(runners, ", "))
		}
		a.run = val
	case "skip":
		if val == "" {
			return fmt.Errorf("skip needs a reason")
		}
		a.skip = val
	case "omit":
		from, reason, err := quoted(val)
		if err != nil || reason == "" {
			return fmt.Errorf("omit: want \"COMMAND\" REASON")
		}
		a.omit = append(a.omit, edit{from: from, reason: reason})
	case "replace":
		from, rest, err := quoted(val)
		to, reason, err2 := quoted(rest)
		if err != nil || err2 != nil || reason == "" || from == "" {
			return fmt.Errorf("replace: want \"FROM\" \"TO\" REASON")
		}
		a.replace = append(a.replace, edit{from: from, to: to, reason: reason})
	default:
		return fmt.Errorf("unknown key %q (id, needs, skip, omit, replace, run, requires)", key)
	}
	return nil
}

// quoted splits a leading Go-quoted string off s.
func quoted(s string) (string, string, error) {
	s = strings.TrimSpace(s)
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	v, err := strconv.Unquote(q)
	return v, strings.TrimSpace(s[len(q):]), err
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// checkRefs checks ids are unique, needs name existing runnable blocks
// without a cycle, and annotations sit on blocks they can apply to.
func checkRefs(blocks []block) []string {
	var errs []string
	ids := map[string]block{}
	for _, b := range blocks {
		if b.ann.id == "" {
			continue
		}
		if prev, dup := ids[b.ann.id]; dup {
			errs = append(errs, fmt.Sprintf("%s: id %q already names %s", b.name(), b.ann.id, prev.name()))
		}
		ids[b.ann.id] = b
	}
	for _, b := range blocks {
		if b.ann.line != 0 && !b.runnable() {
			errs = append(errs, fmt.Sprintf("%s:%d: docs-check on a ```%s block without run:", b.file, b.ann.line, b.lang))
		}
		for _, need := range b.ann.needs {
			dep, ok := ids[need]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: needs %q, which no block has as id", b.name(), need))
			} else if dep.ann.run != "sh" {
				errs = append(errs, fmt.Sprintf("%s: needs %q, which is not a shell block", b.name(), need))
			} else if dep.ann.skip != "" {
				errs = append(errs, fmt.Sprintf("%s: needs %q, which is skipped", b.name(), need))
			}
		}
		if _, err := chain(b, ids); err != nil {
			errs = append(errs, err.Error())
		}
	}
	return errs
}

// chain returns the blocks b needs, transitively and each once, in order,
// then b.
func chain(b block, ids map[string]block) ([]block, error) {
	var out []block
	seen := map[string]bool{}
	var visit func(x block, path []string) error
	visit = func(x block, path []string) error {
		if slices.Contains(path, x.name()) {
			return fmt.Errorf("%s: needs form a cycle: %s", b.name(), strings.Join(append(path, x.name()), " → "))
		}
		for _, need := range x.ann.needs {
			dep, ok := ids[need]
			if !ok {
				continue // reported by checkRefs
			}
			if err := visit(dep, append(path, x.name())); err != nil {
				return err
			}
		}
		if !seen[x.name()] {
			seen[x.name()] = true
			out = append(out, x)
		}
		return nil
	}
	return out, visit(b, nil)
}

// commandOf is a shell line without its trailing comment and spaces: what
// omit: compares with.
func commandOf(line string) string {
	if i := commentStart.FindStringIndex(line); i != nil {
		line = line[:i[0]]
	}
	return strings.TrimSpace(line)
}

var commentStart = regexp.MustCompile(`(^|\s)#`)

// apply returns the block's lines with omit: and replace: applied, or
// an error when one of them matches nothing: a stale annotation fails.
// An omitted line becomes empty, so line numbers still match the page.
func (b block) apply() ([]string, error) {
	lines := slices.Clone(b.body)
	for _, o := range b.ann.omit {
		hit := false
		for i, l := range lines {
			if commandOf(l) == o.from {
				lines[i], hit = "", true
			}
		}
		if !hit {
			return nil, fmt.Errorf("%s: omit %q matches no line of the block", b.name(), o.from)
		}
	}
	for _, r := range b.ann.replace {
		hit := false
		for i, l := range lines {
			if strings.Contains(l, r.from) {
				lines[i], hit = strings.ReplaceAll(l, r.from, r.to), true
			}
		}
		if !hit {
			return nil, fmt.Errorf("%s: replace %q matches nothing in the block", b.name(), r.from)
		}
	}
	return lines, nil
}

func TestParseAnnotations(t *testing.T) {
	readme := "intro\n\n<!-- docs-check\nid: first\n-->\n```sh\necho one   # comment\nmake test # x\n```\n\n" +
		"<!-- docs-check: needs: first -->\n\n```sh\necho two\n```\n" +
		"```json\n{}\n```\n" +
		"<!-- docs-check\nneeds: first\nrun: ansible-task\nrequires: ansible-playbook, ansible-galaxy\n" +
		"omit: \"echo x\" because\nreplace: \"a b\" \"c\" why\n-->\n```yaml\n- debug: {}\n```\n"
	blocks, err := parse("README.md", strings.NewReader(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 4 {
		t.Fatalf("got %d blocks, want 4", len(blocks))
	}
	if b := blocks[0]; b.line != 6 || b.ann.id != "first" || b.ann.run != "sh" || len(b.body) != 2 {
		t.Errorf("first block: %+v", b)
	}
	if b := blocks[1]; b.line != 13 || !slices.Equal(b.ann.needs, []string{"first"}) || b.ann.run != "sh" {
		t.Errorf("second block: %+v", b)
	}
	if blocks[2].runnable() {
		t.Errorf("a json block without an annotation must not run")
	}
	b := blocks[3]
	if b.ann.run != "ansible-task" || !slices.Equal(b.ann.requires, []string{"ansible-playbook", "ansible-galaxy"}) ||
		len(b.ann.omit) != 1 || b.ann.omit[0].from != "echo x" || b.ann.replace[0] != (edit{"a b", "c", "why"}) {
		t.Errorf("fourth block: %+v", b.ann)
	}
}

func TestParseRefusesBrokenAnnotations(t *testing.T) {
	for name, readme := range map[string]string{
		"unknown key":         "<!-- docs-check\nskipp: typo\n-->\n```sh\ntrue\n```\n",
		"skip without why":    "<!-- docs-check: skip: -->\n```sh\ntrue\n```\n",
		"omit without why":    "<!-- docs-check: omit: \"true\" -->\n```sh\ntrue\n```\n",
		"dangling":            "<!-- docs-check: id: x -->\ntext\n```sh\ntrue\n```\n",
		"unknown need":        "<!-- docs-check: needs: nope -->\n```sh\ntrue\n```\n",
		"duplicate id":        "<!-- docs-check: id: a -->\n```sh\ntrue\n```\n<!-- docs-check: id: a -->\n```sh\ntrue\n```\n",
		"cycle":               "<!-- docs-check\nid: a\nneeds: b\n-->\n```sh\ntrue\n```\n<!-- docs-check\nid: b\nneeds: a\n-->\n```sh\ntrue\n```\n",
		"yaml without run":    "<!-- docs-check: requires: x -->\n```yaml\na: 1\n```\n",
		"needs a skipped one": "<!-- docs-check\nid: a\nskip: why\n-->\n```sh\ntrue\n```\n<!-- docs-check: needs: a -->\n```sh\ntrue\n```\n",
		"unknown runner":      "<!-- docs-check: run: python -->\n```py\npass\n```\n",
		"unclosed block":      "```sh\ntrue\n",
		"comment at the end":  "```sh\ntrue\n```\n<!-- docs-check: id: a -->\n",
	} {
		if _, err := parse("README.md", strings.NewReader(readme)); err == nil {
			t.Errorf("%s: parsed without an error", name)
		}
	}
}

func TestApplyEdits(t *testing.T) {
	b := block{line: 1, body: []string{"tokenkeeper agent      # foreground", "tokenkeeper agent stop", "x > /etc/f"},
		ann: annotation{omit: []edit{{from: "tokenkeeper agent", reason: "r"}}, replace: []edit{{from: "/etc/f", to: "$TMPDIR/f", reason: "r"}}}}
	got, err := b.apply()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "tokenkeeper agent stop", "x > $TMPDIR/f"}; !slices.Equal(got, want) {
		t.Errorf("apply = %q, want %q", got, want)
	}
	b.ann.omit[0].from = "tokenkeeper gone"
	if _, err := b.apply(); err == nil {
		t.Errorf("an omit that matches nothing must be an error")
	}
}

// TestDocsParse checks the annotations of README.md and of every
// docs/*.md page, and that each runnable block's omit: and replace: still
// match it.
func TestDocsParse(t *testing.T) {
	blocks := docBlocks(t)
	n, skipped := 0, 0
	for _, b := range blocks {
		switch {
		case b.runnable() && b.ann.skip != "":
			skipped++
		case b.runnable():
			if _, err := b.apply(); err != nil {
				t.Error(err)
			}
			n++
		}
	}
	t.Logf("%d pages, %d code blocks: %d run, %d skipped by their annotation", len(docPages(t)), len(blocks), n, skipped)
	if n < 5 {
		t.Errorf("the pages have %d runnable blocks; the check expects the walkthrough, every verb, Ansible and Packer at least", n)
	}
}

// TestCrossPageNeeds: a block may need a block of another page, and the
// chain runs the needed one first, each once.
func TestCrossPageNeeds(t *testing.T) {
	a, errs := parseFile("docs/a.md", strings.NewReader("<!-- docs-check: id: sim -->\n```sh\ntrue\n```\n"))
	// Both blocks are on line 2 of their page: a chain keyed by line alone would drop one.
	b, errs2 := parseFile("README.md", strings.NewReader("<!-- docs-check: needs: sim -->\n```sh\ntrue\n```\n"))
	all := append(a, b...)
	if errs = append(append(errs, errs2...), checkRefs(all)...); len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	got, err := chain(all[1], map[string]block{"sim": all[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].name() != "docs/a.md:2(sim)" || got[1].name() != "README.md:2" {
		t.Errorf("chain = %v, want docs/a.md:2(sim) then README.md:2", got)
	}
	if all[0].testName() != "a.md:2(sim)" {
		t.Errorf("testName = %q: a subtest name must not hold the page's directory", all[0].testName())
	}
	if _, errs := parseFile("docs/b.md", strings.NewReader("<!-- docs-check: skipp: x -->\n```sh\ntrue\n```\n")); len(errs) != 1 || !strings.HasPrefix(errs[0], "docs/b.md:1:") {
		t.Errorf("errors %q: want one naming docs/b.md:1", errs)
	}
}

// docPages are the pages whose examples are checked: README.md, then
// every docs/*.md in name order, relative to the repository root.
func docPages(t testing.TB) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, p := range pages {
		out = append(out, filepath.ToSlash(strings.TrimPrefix(p, repoRoot+string(filepath.Separator))))
	}
	return out
}

// repoRoot is the repository root, from this package's directory.
var repoRoot = filepath.Join("..", "..")

// docBlocks parses README.md and every docs/*.md page; ids and needs are
// checked across all of them.
func docBlocks(t testing.TB) []block {
	t.Helper()
	var (
		blocks []block
		errs   []string
	)
	for _, page := range docPages(t) {
		f, err := os.Open(filepath.Join(repoRoot, page))
		if err != nil {
			t.Fatal(err)
		}
		b, e := parseFile(page, f)
		_ = f.Close()
		blocks, errs = append(blocks, b...), append(errs, e...)
	}
	errs = append(errs, checkRefs(blocks)...)
	if len(errs) > 0 {
		t.Fatalf("docs-check annotations:\n%s", strings.Join(errs, "\n"))
	}
	return blocks
}
