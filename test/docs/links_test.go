package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// mdLink is a markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// slug is the anchor GitHub gives a heading: lower case, punctuation
// dropped (letters, digits, '-' and '_' stay), spaces as '-'.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors are the heading anchors of a page, outside code blocks.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	inCode := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
		}
		if h, ok := strings.CutPrefix(l, "#"); ok && !inCode {
			out[slug(strings.TrimSpace(strings.TrimLeft(h, "#")))] = true
		}
	}
	return out
}

// TestDocLinks: every relative link of README.md and docs/*.md points at
// a file of the tree, and every #anchor at a heading of its page, so a
// moved section cannot leave a dead link behind.
func TestDocLinks(t *testing.T) {
	texts := map[string]string{}
	read := func(page string) (string, bool) {
		if s, ok := texts[page]; ok {
			return s, true
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, page))
		if err != nil {
			return "", false
		}
		texts[page] = string(b)
		return texts[page], true
	}
	n := 0
	for _, page := range docPages(t) {
		text, _ := read(page)
		for i, l := range strings.Split(text, "\n") {
			for _, m := range mdLink.FindAllStringSubmatch(l, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				n++
				file, anchor, _ := strings.Cut(target, "#")
				dest := page
				if file != "" {
					dest = filepath.ToSlash(filepath.Join(filepath.Dir(page), file))
				}
				destText, ok := read(dest)
				if _, err := os.Stat(filepath.Join(repoRoot, dest)); err != nil {
					t.Errorf("%s:%d: link %s: %s does not exist", page, i+1, target, dest)
					continue
				}
				if anchor != "" && (!ok || !anchors(destText)[anchor]) {
					t.Errorf("%s:%d: link %s: %s has no heading with anchor #%s", page, i+1, target, dest, anchor)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d relative links found in the pages; the pattern no longer sees them", n)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Go: `host.Launch`, `host.Dial`, `host.Transport`, `host.TokenSource`": "go-hostlaunch-hostdial-hosttransport-hosttokensource",
		"Credentials rejected, lockout":                                        "credentials-rejected-lockout",
		"401 or 403?":                                                          "401-or-403",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
