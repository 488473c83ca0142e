package agent

import (
	"context"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
)

// fixedExec answers every line with the same document, as the keeper
// answers a steady caller from its cache.
type fixedExec []byte

func (f fixedExec) Answer(context.Context, []byte) ([]byte, bool) { return f, true }

// BenchmarkExecCall measures sequential exec-protocol round trips, as
// the front makes them (agentconn.Call under a deadline), against a
// served agent socket: the agent's side of a warm get without the
// keeper's work.
func BenchmarkExecCall(b *testing.B) {
	doc := fixedExec(`{"apiVersion":"tokenkeeper/v1","kind":"Token","profile":"sddc","token":"x"}` + "\n")
	p, _ := execAgent(b, doc, Options{})
	const req = `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`
	for b.Loop() {
		if _, err := agentconn.Call(time.Now().Add(5*time.Second), p.Exec, []byte(req)); err != nil {
			b.Fatal(err)
		}
	}
}
