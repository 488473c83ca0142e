// Command agentcall is the smallest client of the agent's exec socket:
// one agentconn.Call, the answer on stdout. BenchmarkAgentRoundTrip
// starts it against a hello-world to see what a lean front can reach.
package main

import (
	"os"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
)

func main() {
	ans, err := agentconn.Call(time.Now().Add(time.Minute), os.Args[1], []byte(os.Args[2]))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	_, _ = os.Stdout.Write(ans)
}
