package docs

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The package map of docs/development.md is the fenced block right after
// a line starting with mapMarker: one line per package of the main module
// (`go list ./...`, as a directory with a trailing slash) and per other
// Go module (its directory, the description starting with moduleTag),
// each followed by what it holds.
const (
	mapPage    = "docs/development.md"
	mapMarker  = "<!-- package-map"
	moduleTag  = "[module]"
	layoutPage = "README.md"
	// layoutMarker starts the README's short layout map, whose paths must
	// exist and cover every top-level directory.
	layoutMarker = "<!-- layout-map"
)

// mapEntry is one line of a map: a path and the page line it is on.
type mapEntry struct {
	path   string // "plugin/keeper/"
	module bool   // the description starts with moduleTag
	line   int
}

// readMap returns the entries of the fenced block after marker in page,
// and the line of the marker.
func readMap(page, marker string) ([]mapEntry, int, error) {
	f, err := os.Open(filepath.Join(repoRoot, page))
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var (
		entries      []mapEntry
		markerLine   int
		inBlock, end bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan() && !end; n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case markerLine == 0:
			if strings.HasPrefix(l, marker) {
				markerLine = n
			}
		case !inBlock:
			inBlock = strings.HasPrefix(l, "```")
			if !inBlock && l != "" {
				return nil, markerLine, fmt.Errorf("%s:%d: the map's ``` block must follow its %s … --> line", page, markerLine, marker)
			}
		case l == "```":
			end = true
		case l != "":
			path, desc, _ := strings.Cut(l, " ")
			if !strings.HasSuffix(path, "/") {
				return nil, markerLine, fmt.Errorf("%s:%d: %q: want PATH/ then what it holds", page, n, l)
			}
			entries = append(entries, mapEntry{path: path, module: strings.HasPrefix(strings.TrimSpace(desc), moduleTag), line: n})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	if !end {
		return nil, markerLine, fmt.Errorf("%s: no %s … --> line followed by a closed ``` block", page, marker)
	}
	return entries, markerLine, nil
}

// comparePackageMap returns one message per difference between the map's
// entries and the packages and module directories of the tree (both as
// "dir/"), each saying what to change and where.
func comparePackageMap(entries []mapEntry, marker int, pkgs, modules []string) []string {
	var errs []string
	listed := map[string]mapEntry{}
	for _, e := range entries {
		if prev, dup := listed[e.path]; dup {
			errs = append(errs, fmt.Sprintf("%s:%d: %s is listed twice (also line %d): delete one", mapPage, e.line, e.path, prev.line))
		}
		listed[e.path] = e
	}
	want := func(path string, module bool) {
		e, ok := listed[path]
		what, add := "package", path+"  <what it holds>"
		if module {
			what, add = "module", path+"  "+moduleTag+" <module path>: <what it is for>"
		}
		switch {
		case !ok:
			errs = append(errs, fmt.Sprintf("%s: %s %s is missing from the package map: add the line\n\t%s\n\t%s",
				mapPage, what, path, add, insertHint(entries, marker, path)))
		case e.module != module && module:
			errs = append(errs, fmt.Sprintf("%s:%d: %s is a Go module of its own (it has a go.mod): start its description with %s", mapPage, e.line, path, moduleTag))
		case e.module != module:
			errs = append(errs, fmt.Sprintf("%s:%d: %s is a package of the main module, not a module: drop %s", mapPage, e.line, path, moduleTag))
		}
	}
	for _, p := range pkgs {
		want(p, false)
	}
	for _, m := range modules {
		want(m, true)
	}
	for _, e := range entries {
		if e.module && !slices.Contains(modules, e.path) && !slices.Contains(pkgs, e.path) {
			errs = append(errs, fmt.Sprintf("%s:%d: %s is in the package map as a module, but %sgo.mod does not exist: delete the line or fix the path", mapPage, e.line, e.path, e.path))
		} else if !e.module && !slices.Contains(pkgs, e.path) && !slices.Contains(modules, e.path) {
			errs = append(errs, fmt.Sprintf("%s:%d: %s is in the package map, but `go list ./...` has no such package: delete the line or fix the path", mapPage, e.line, e.path))
		}
	}
	return errs
}

// insertHint says where a missing path belongs: after the entry that
// precedes it in path order.
func insertHint(entries []mapEntry, marker int, path string) string {
	var before *mapEntry
	for i, e := range entries {
		if e.path < path && (before == nil || e.path > before.path) {
			before = &entries[i]
		}
	}
	if before == nil {
		return fmt.Sprintf("(in path order: as the first line of the block after %s:%d)", mapPage, marker)
	}
	return fmt.Sprintf("(in path order: after %s:%d, %s)", mapPage, before.line, before.path)
}

// goPackages lists the main module's packages as directories relative to
// the repository root, with a trailing slash.
func goPackages(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.Module.Path}} {{.ImportPath}}", "./...")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list ./...: %v\n%s", err, stderr)
	}
	var pkgs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		mod, pkg, _ := strings.Cut(l, " ")
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		if rel == "" {
			rel = "."
		}
		pkgs = append(pkgs, rel+"/")
	}
	return pkgs
}

// goModules lists the directories, other than the root, holding a go.mod;
// hidden directories (tool caches), testdata and build output are not
// searched.
func goModules(t *testing.T) []string {
	t.Helper()
	var mods []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") ||
			d.Name() == "testdata" || rel == "bin" || rel == "dist") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" && filepath.Dir(rel) != "." {
			mods = append(mods, filepath.ToSlash(filepath.Dir(rel))+"/")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

// TestPackageMap fails when the package map of docs/development.md does
// not list exactly the packages of `go list ./...` and the directories of
// the other Go modules, naming each one missing or extra and where to
// change the map.
func TestPackageMap(t *testing.T) {
	entries, marker, err := readMap(mapPage, mapMarker)
	if err != nil {
		t.Fatal(err)
	}
	if errs := comparePackageMap(entries, marker, goPackages(t), goModules(t)); len(errs) > 0 {
		t.Errorf("the package map of %s does not match the tree (%d differences):\n%s", mapPage, len(errs), strings.Join(errs, "\n"))
	}
}

// TestComparePackageMap: the comparison names a missing package, an extra
// one, a module without its tag and a duplicate.
func TestComparePackageMap(t *testing.T) {
	entries := []mapEntry{
		{path: "cmd/tokenkeeper/", line: 10},
		{path: "plugin/gone/", line: 11},
		{path: "plugin/keeper/", line: 12},
		{path: "host/packer/", line: 13},
		{path: "plugin/keeper/", line: 14},
	}
	errs := comparePackageMap(entries, 8, []string{"cmd/tokenkeeper/", "plugin/keeper/", "plugin/new/"}, []string{"host/packer/"})
	got := strings.Join(errs, "\n")
	for _, want := range []string{
		"package plugin/new/ is missing from the package map: add the line\n\tplugin/new/  <what it holds>\n\t(in path order: after docs/development.md:12, plugin/keeper/)",
		"docs/development.md:11: plugin/gone/ is in the package map, but `go list ./...` has no such package",
		"docs/development.md:13: host/packer/ is a Go module of its own (it has a go.mod): start its description with [module]",
		"docs/development.md:14: plugin/keeper/ is listed twice (also line 12)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the comparison lacks\n%s\ngot:\n%s", want, got)
		}
	}
	if len(errs) != 4 {
		t.Errorf("got %d messages, want 4:\n%s", len(errs), got)
	}
	if errs := comparePackageMap([]mapEntry{{path: "a/", line: 3}, {path: "m/", module: true, line: 4}}, 1, []string{"a/"}, []string{"m/"}); len(errs) != 0 {
		t.Errorf("a matching map: %q", errs)
	}
}

// TestReadmeLayout: every path of the README's layout map exists, and
// every top-level directory of the tree is in it.
func TestReadmeLayout(t *testing.T) {
	entries, marker, err := readMap(layoutPage, layoutMarker)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(repoRoot, e.path)); err != nil {
			t.Errorf("%s:%d: the layout map names %s, which does not exist: fix or delete the line", layoutPage, e.line, e.path)
		}
		paths = append(paths, e.path)
	}
	top, err := os.ReadDir(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range top {
		name := d.Name()
		if !d.IsDir() || strings.HasPrefix(name, ".") || name == "bin" || name == "dist" {
			continue
		}
		if !slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, name+"/") }) {
			t.Errorf("%s: the layout map (after line %d) has no line for the top-level directory %s/: add one", layoutPage, marker, name)
		}
	}
}
