package testutil

import (
	"os/exec"
	"strings"
	"testing"
)

// Deps is every package that the packages of patterns link, as `go list
// -deps` in the test's directory names them; the dependency tests of
// several packages check it with Linked. It skips under -short (it runs
// the go command) and fails when fewer than least come back: such a
// list would let any check pass.
func Deps(t testing.TB, least int, patterns ...string) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, patterns...)...).Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < least {
		t.Fatalf("go list returned %d packages: the check proves nothing", len(deps))
	}
	return deps
}

// Linked is the packages of deps that are one of families or inside one
// (a family is a package path and every package below it), in the order
// of deps.
func Linked(deps, families []string) []string {
	var hits []string
	for _, d := range deps {
		for _, f := range families {
			if d == f || strings.HasPrefix(d, f+"/") {
				hits = append(hits, d)
				break
			}
		}
	}
	return hits
}
