package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// composition are the files that wire the keeper: only they may import
// it. Every other file reaches a keeper through a *host.Client, of the
// agent or in process (plugin.InProcess), so one failure has one exit
// code by structure.
var composition = []string{"compose.go", "plugin.go"}

// agentLogic are what finding, starting and stopping agents is made of.
// It lives in plugin/agentconn (shared with host.Dial and a lean front
// binary); cmd only calls agentconn and paths.Agents and prints.
var agentLogic = []string{
	"agentconn.Starter", "agentconn.SpawnDetached", "agentconn.Connect", "agentconn.Finder", "agentconn.Gone",
	"paths.Locate", "paths.TagOf", "paths.SeenTag", "paths.EnvTag", "paths.ReadKey", "paths.ReadEnvNames",
	"paths.PeerCred", "syscall.Kill", "syscall.Statfs", "agent.Lookup", "agent.Environ",
}

// TestCmdOnlyTranslates: cmd/tokenkeeper-core imports plugin/keeper only
// to compose it, and neither it nor the front (cmd/tokenkeeper) dials a
// socket or holds agent-locating or agent-starting logic.
func TestCmdOnlyTranslates(t *testing.T) {
	for _, dir := range []string{".", "../tokenkeeper"} {
		for _, p := range layoutProblems(t, dir) {
			t.Error(p)
		}
	}
}

// layoutProblems lists what breaks the rules above in the non-test Go
// files of dir.
func layoutProblems(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) < 5 {
		t.Fatalf("found %d Go files (%v): the check proves nothing", len(files), err)
	}
	var problems []string
	fset := token.NewFileSet()
	for _, path := range files {
		name := filepath.Base(path)
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case p == "github.com/tokenkeeper/tokenkeeper/plugin/keeper" && !slices.Contains(composition, name):
				problems = append(problems, name+" imports plugin/keeper: only "+strings.Join(composition, " and ")+" compose it")
			case p == "net":
				problems = append(problems, name+" imports net: agentconn dials agents, proxy.Listen listens")
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && slices.Contains(agentLogic, x.Name+"."+n.Sel.Name) {
					problems = append(problems, fset.Position(n.Pos()).String()+": "+x.Name+"."+n.Sel.Name+" is agent logic: call agentconn")
				}
			case *ast.BasicLit:
				if strings.Contains(n.Value, "/proc/") {
					problems = append(problems, fset.Position(n.Pos()).String()+": reads /proc: agentconn.Gone does")
				}
			}
			return true
		})
	}
	return problems
}
