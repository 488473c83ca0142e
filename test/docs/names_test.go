package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// namedPackages are the short package names the pages use for
// `package.Name`; a name qualified by a directory (`cmd/tokenkeeper.classify`)
// is looked up in that directory.
var namedPackages = map[string]string{
	"agent":     "plugin/agent",
	"agentconn": "plugin/agentconn",
	"config":    "plugin/config",
	"exec":      "host/exec",
	"guardfile": "plugin/guardfile",
	"host":      "host",
	"keeper":    "plugin/keeper",
	"paths":     "plugin/paths",
	"plugin":    "plugin",
	"provider":  "plugin/provider",
	"secret":    "plugin/secret",
	"vcd":       "plugin/provider/vcd",
	"vcf":       "plugin/provider/vcf",
	"wire":      "plugin/wire",
}

// namesChecked are the pages whose Go names must all exist.
var namesChecked = []string{"docs/errors.md"}

// goName matches `pkg.Name`, `(*pkg.Type).Method` and `pkg.Type.Method`.
var goName = regexp.MustCompile(`\b([a-z][a-z0-9]*(?:/[a-z0-9-]+)*)\.([A-Za-z_][A-Za-z0-9_]*)(?:\)?\.([A-Za-z_][A-Za-z0-9_]*))?`)

// codeSpan is one `…` span of a page.
var codeSpan = regexp.MustCompile("`[^`\n]+`")

// goDecls are the names a package declares: top-level funcs, types, vars
// and consts, and each type's methods as "Type.Method".
func goDecls(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(repoRoot, dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			addDecl(names, d)
		}
	}
	return names
}

func addDecl(names map[string]bool, d ast.Decl) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil || len(d.Recv.List) == 0 {
			names[d.Name.Name] = true
			return
		}
		typ := d.Recv.List[0].Type
		if s, ok := typ.(*ast.StarExpr); ok {
			typ = s.X
		}
		if id, ok := typ.(*ast.Ident); ok {
			names[id.Name+"."+d.Name.Name] = true
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				names[s.Name.Name] = true
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names[n.Name] = true
				}
			}
		}
	}
}

// pageNames returns each `pkg.Name` reference of a page with its line,
// as "dir name" or "dir Type.Method".
func pageNames(t *testing.T, page string) map[string][]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, page))
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string][]int{}
	for i, line := range strings.Split(string(b), "\n") {
		for _, span := range codeSpan.FindAllString(line, -1) {
			for _, m := range goName.FindAllStringSubmatch(span, -1) {
				dir, ok := namedPackages[m[1]]
				if strings.Contains(m[1], "/") {
					// path/file.ext is a file name, not a Go name.
					fi, err := os.Stat(filepath.Join(repoRoot, m[1]))
					dir, ok = m[1], err == nil && fi.IsDir()
				}
				if !ok || slices.Contains([]string{"go", "py", "md", "mk", "yaml", "json"}, m[2]) {
					continue
				}
				ref := dir + " " + m[2]
				if m[3] != "" {
					ref += "." + m[3]
				}
				refs[ref] = append(refs[ref], i+1)
			}
		}
	}
	return refs
}

// isMethod: a bare name may also be a method of one of the package's types
// (`vcf.loginFailure` for (*vcf.Provider).loginFailure).
func isMethod(decls map[string]bool, name string) bool {
	for d := range decls {
		if _, m, ok := strings.Cut(d, "."); ok && m == name && !strings.Contains(name, ".") {
			return true
		}
	}
	return false
}

// TestErrorsPageNamesAreReal: every Go name docs/errors.md gives as
// `package.Name` (or `package.Type.Method`) is declared in that package,
// so the page cannot keep a name the code renamed.
func TestErrorsPageNamesAreReal(t *testing.T) {
	decls := map[string]map[string]bool{}
	for _, page := range namesChecked {
		refs := pageNames(t, page)
		if len(refs) < 20 {
			t.Errorf("%s: only %d Go names found; the pattern no longer sees them", page, len(refs))
		}
		for ref, lines := range refs {
			dir, name, _ := strings.Cut(ref, " ")
			if decls[dir] == nil {
				decls[dir] = goDecls(t, dir)
			}
			if !decls[dir][name] && !isMethod(decls[dir], name) {
				t.Errorf("%s:%d: %s is not declared in %s: the code renamed or removed it; fix the page", page, lines[0], name, dir)
			}
		}
	}
}
