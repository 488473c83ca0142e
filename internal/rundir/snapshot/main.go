// Command snapshot prints rundir.Snapshot of the invoking user's
// runtime directories; with -compare FILE it exits 1, printing both, if
// the snapshot differs from the one FILE holds. `make unit` takes one
// before and compares after the suite.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tokenkeeper/tokenkeeper/internal/rundir"
)

func main() {
	compare := flag.String("compare", "", "file holding an earlier snapshot")
	flag.Parse()
	dirs := rundir.Dirs(os.Getenv)
	now := rundir.Snapshot(dirs)
	if *compare == "" {
		fmt.Print(now)
		return
	}
	before, err := os.ReadFile(*compare)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if string(before) != now {
		fmt.Fprintf(os.Stderr, "the tests changed your own runtime directories %v:\nbefore:\n%safter:\n%s", dirs, before, now)
		os.Exit(1)
	}
}
