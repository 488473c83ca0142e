package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/agentconn"
	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// execSocket is where tk's agent answers the exec protocol, found as the
// lean front finds it: from the names file, without the configuration.
func (tk *tkEnv) execSocket(t testing.TB) string {
	t.Helper()
	dir, err := paths.OpenRuntimeDir(tk.getenv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	a, fresh, err := agentconn.LocateFromNames(dir, tk.config, tk.env)
	if err != nil || !fresh {
		t.Fatalf("LocateFromNames: fresh %v, %v; want the running agent's socket", fresh, err)
	}
	return a.Exec
}

// getenv looks name up in tk's environment.
func (tk *tkEnv) getenv(name string) string {
	v, _ := agentconn.Lookup(tk.env)(name)
	return v
}

// call makes one exec-protocol call to socket, bounded in time.
func call(t testing.TB, socket, request string) (string, error) {
	t.Helper()
	b, err := agentconn.Call(time.Now().Add(30*time.Second), socket, []byte(request))
	return string(b), err
}

// TestExecSocketAnswersAsTheCLIPrints: what the agent answers on its exec
// socket is, byte for byte, what `tokenkeeper get --format json` (or
// `invalidate`) prints for the same request — the Token document with the
// profile's url and caFile, the Error documents of an unknown profile and
// of bad requests — and invalidate drops only the token it names. The
// agent logs at trace level and never writes the token.
func TestExecSocketAnswersAsTheCLIPrints(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	tk.startAgent(t)
	cli := tk.run(t, nil, "get", "--profile", "sddc")
	sock := tk.execSocket(t)
	got, err := call(t, sock, `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`)
	if err != nil || cli.code != 0 || got != cli.stdout {
		t.Fatalf("exec answer differs from the CLI's (exit %d, %v):\nagent: %.60s…\ncli:   %.60s…", cli.code, err, got, cli.stdout)
	}
	var doc tokenDoc
	if err := strictDecode(got, &doc); err != nil || doc.URL != s.URL || doc.CAFile != s.CAFile {
		t.Fatalf("Token document without the profile's url and caFile (%v)", err)
	}

	for _, c := range []struct{ name, request string }{
		{"unknown profile", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"nope"}`},
		{"unknown field", `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","x":1}`},
		{"wrong apiVersion", `{"apiVersion":"tokenkeeper/v2","kind":"TokenRequest","profile":"sddc"}`},
		{"not JSON", `profile=sddc`},
		{"multi-line request", "{\n  \"apiVersion\": \"tokenkeeper/v1\",\n  \"kind\": \"TokenRequest\",\n  \"profile\": \"sddc\"\n}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cli := tk.run(t, []byte(c.request), "get")
			got, err := call(t, sock, c.request)
			if err != nil || got != cli.stdout {
				t.Errorf("exec answer differs from the CLI's stdout (exit %d, %v):\nagent: %s\ncli:   %s", cli.code, err, got, cli.stdout)
			}
		})
	}

	inv := `{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"sddc","fingerprint":"` + doc.Fingerprint + `"}`
	if got, err := call(t, sock, inv); err != nil || got != "\n" {
		t.Fatalf("invalidate: %q, %v; want the empty line of a silent success", got, err)
	}
	fresh := tk.get(t, "sddc")
	if fresh.Fingerprint == doc.Fingerprint {
		t.Fatal("invalidate left the token it names in place")
	}
	if got, err := call(t, sock, inv); err != nil || got != "\n" {
		t.Fatalf("invalidate of a replaced token: %q, %v", got, err)
	}
	if again := tk.get(t, "sddc"); again.Fingerprint != fresh.Fingerprint {
		t.Fatal("invalidating a token no longer current dropped the current one")
	}
	if strings.Contains(tk.seen.String(), doc.Token) || strings.Contains(tk.seen.String(), fresh.Token) {
		t.Fatal("a token appeared in the agent's trace log or the CLI's stderr")
	}
	if !strings.Contains(tk.seen.String(), "\"@level\":\"trace\"") && !strings.Contains(tk.seen.String(), "[TRACE]") {
		t.Fatal("the agent logged nothing at trace level: the canary proves nothing")
	}
}

// TestExecSocketRetiringAgent: after the profiles file changed, the agent
// answers its next exec call Unavailable, "this agent is exiting", and
// has left the socket by then, so Call says ErrAgentLeft and the caller
// runs the call once more on a successor.
func TestExecSocketRetiringAgent(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	cfg := vcfConfig(s, e2eUser, "{env: TK_E2E_PW}")
	tk := newTK(t, cfg, pwEnv)
	tk.get(t, "sddc") // starts a detached agent
	sock := tk.execSocket(t)
	rewriteConfig(t, tk.config, "# changed\n"+cfg)
	got, err := call(t, sock, `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`)
	if !errors.Is(err, agentconn.ErrAgentLeft) {
		t.Fatalf("call after the config changed: %v (answer %q), want ErrAgentLeft", err, got)
	}
	var e errorDoc
	if err := strictDecode(got, &e); err != nil || e.Error.Code != "Unavailable" || !e.Error.Retryable ||
		!strings.Contains(e.Error.Message, "this agent is exiting") {
		t.Fatalf("answer of the retiring agent: %q (%v)", got, err)
	}
	tk.get(t, "sddc") // the full binary starts the successor
	if got, err := call(t, tk.execSocket(t), `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc"}`); err != nil ||
		!strings.Contains(got, `"kind":"Token"`) {
		t.Fatalf("successor: %v", err)
	}
}
