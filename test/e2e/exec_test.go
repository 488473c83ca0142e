package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	tokenkeeperv1 "github.com/tokenkeeper/tokenkeeper/proto/tokenkeeper/v1"
)

const (
	e2eUser     = "admin@local"
	e2ePassword = "S3cret-e2e-pw"
)

var pwEnv = "TK_E2E_PW=" + e2ePassword

// TestExecParallelGetsStartOneAgent: 100 get processes at once with no agent
// running start exactly one agent, which logs in once.
func TestExecParallelGetsStartOneAgent(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	const n = 100
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = tk.run(t, nil, "get", "--profile", "sddc") })
	}
	wg.Wait()
	fingerprints := map[string]int{}
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("get #%d: exit %d, stderr %q", i, r.code, r.stderr)
		}
		var doc tokenDoc
		if err := strictDecode(r.stdout, &doc); err != nil {
			t.Fatalf("get #%d: stdout is not one Token document: %v", i, err)
		}
		if doc.Kind != "Token" || doc.APIVersion != "tokenkeeper/v1" || doc.Token == "" {
			t.Fatalf("get #%d: unexpected document kind %q", i, doc.Kind)
		}
		fingerprints[doc.Fingerprint]++
		if i == 0 && s.Domains(t, doc.Header) != http.StatusOK {
			t.Fatal("the token was not accepted by GET /v1/domains")
		}
	}
	if len(fingerprints) != 1 {
		t.Errorf("%d different fingerprints, want 1: %v", len(fingerprints), fingerprints)
	}
	if pids := tk.agentPIDs(t); len(pids) != 1 {
		t.Errorf("%d agent processes, want 1: %v", len(pids), pids)
	}
	if st := s.Stats(t); st.Logins != 1 {
		t.Errorf("simulator counted %d logins, want 1", st.Logins)
	}
	st := tk.run(t, nil, "status", "--json")
	if st.code != 0 || !strings.Contains(st.stdout, `"running": true`) || strings.Contains(st.stdout, e2ePassword) {
		t.Errorf("status: exit %d: %s", st.code, st.stdout)
	}
}

// TestExecShortTTLLoop: with 3 s tokens, get in a loop for 20 s hands out
// only tokens the upstream accepts, after one login and refreshes only.
//
// Each get asks for the second of validity its request needs, as a real
// caller would: the keeper's own margin for a 3 s token is a tenth of it
// (300 ms), so without it a token may be handed out with 0.3 s left and,
// on a loaded machine, reach GET /v1/domains after it expired.
//
// Parallel: it mostly waits (20 s of wall time), and its agent, runtime
// dir and simulator are its own.
func TestExecShortTTLLoop(t *testing.T) {
	t.Parallel()
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":VIEWER", "--access-ttl", "3s")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	end := time.Now().Add(20 * time.Second)
	calls := 0
	for time.Now().Before(end) && calls < 2000 {
		r := tk.run(t, nil, "get", "--profile", "sddc", "--min-validity", "1s")
		if r.code != 0 {
			t.Fatalf("get #%d: exit %d: %s", calls, r.code, r.stderr)
		}
		var doc tokenDoc
		if err := strictDecode(r.stdout, &doc); err != nil {
			t.Fatal(err)
		}
		if code := s.Domains(t, doc.Header); code != http.StatusOK {
			t.Fatalf("get #%d: GET /v1/domains answered %d", calls, code)
		}
		calls++
		time.Sleep(100 * time.Millisecond)
	}
	st := s.Stats(t)
	if st.Logins != 1 || st.Refreshes < 1 || st.Unauthorized != 0 {
		t.Errorf("after %d gets: %+v, want 1 login, refreshes only after it, no 401", calls, st)
	}
	t.Logf("%d gets in 20 s: %d login, %d refreshes", calls, st.Logins, st.Refreshes)
}

// TestExecWrongPasswordLoop: 200 gets with a wrong password cause exactly
// one failed login upstream — the lockout guard lives in the agent.
func TestExecWrongPasswordLoop(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), "TK_E2E_PW=wrong-password-1")
	for i := range 200 {
		r := tk.run(t, nil, "get", "--profile", "sddc")
		if r.code != 3 {
			t.Fatalf("get #%d: exit %d, want 3: %s", i, r.code, r.stderr)
		}
		checkErrorOutput(t, r, "wrong-password-1")
	}
	if st := s.Stats(t); st.LoginFailures != 1 || st.Logins != 0 {
		t.Errorf("simulator: %d failed logins, %d logins; want exactly 1 failed", st.LoginFailures, st.Logins)
	}
}

// checkErrorOutput: exactly one Error document on stdout, exactly one line
// on stderr, no secret anywhere.
func checkErrorOutput(t *testing.T, r result, secrets ...string) errorDoc {
	t.Helper()
	var doc errorDoc
	if err := strictDecode(r.stdout, &doc); err != nil {
		t.Fatalf("stdout is not one Error document (%v): %q", err, r.stdout)
	}
	if doc.Kind != "Error" || doc.APIVersion != "tokenkeeper/v1" || doc.Error.Code == "" || doc.Error.Message == "" {
		t.Fatalf("bad Error document: %+v", doc)
	}
	if lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "tokenkeeper: ") {
		t.Fatalf("stderr is not one 'tokenkeeper: …' line: %q", r.stderr)
	}
	for _, s := range secrets {
		if s != "" && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
			t.Fatal("a secret appears in the output")
		}
	}
	return doc
}

// TestExecBadInput: every kind of bad input gives its documented exit code,
// one Error document, one stderr line and no secret.
func TestExecBadInput(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN", "--user", "locked@local=Locked-pw1:ADMIN")
	other := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN") // its CA is the wrong one for s
	for range 5 {
		s.Login(t, "locked@local", "not-the-password")
	}
	secretDir := t.TempDir()
	open := filepath.Join(secretDir, "open")
	if err := os.WriteFile(open, []byte(e2ePassword+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := vcfConfig(s, e2eUser, "{env: TK_E2E_PW}")
	tests := []struct {
		name   string
		config string // "" = no config file
		stdin  string
		args   []string
		env    []string
		code   int
		ecode  string
	}{
		{name: "malformed JSON", config: good, stdin: `{"apiVersion":"tokenkeeper/v1",`, code: 2, ecode: "InvalidArgument"},
		{name: "unknown field", config: good, stdin: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","passwd":"x"}`, code: 2, ecode: "InvalidArgument"},
		{name: "wrong kind", config: good, stdin: `{"apiVersion":"tokenkeeper/v1","kind":"Token","profile":"sddc"}`, code: 2, ecode: "InvalidArgument"},
		{name: "unknown flag", config: good, args: []string{"get", "--profil", "sddc"}, code: 2, ecode: "InvalidArgument"},
		{name: "unknown profile", config: good, args: []string{"get", "--profile", "nope"}, code: 2, ecode: "NotFound"},
		{name: "no config file", args: []string{"get", "--profile", "sddc"}, code: 2, ecode: "BadConfig"},
		{name: "unreadable secret file", config: vcfConfig(s, e2eUser, "{file: "+filepath.Join(secretDir, "missing")+"}"), code: 2, ecode: "BadConfig"},
		{name: "world-readable secret file", config: vcfConfig(s, e2eUser, "{file: "+open+"}"), code: 2, ecode: "BadConfig"},
		{name: "hanging secret command", config: vcfConfig(s, e2eUser, `{command: ["sleep", "30"], timeout: 1s}`), code: 2, ecode: "BadConfig"},
		{name: "wrong password", config: good, env: []string{"TK_E2E_PW=wrong-pw-2"}, code: 3, ecode: "Unauthenticated"},
		{name: "locked account", config: vcfConfig(s, "locked@local", "{env: TK_E2E_PW}"), env: []string{"TK_E2E_PW=Locked-pw1"}, code: 3, ecode: "Unauthenticated"},
		{name: "unreachable URL", config: strings.Replace(good, s.URL, "https://127.0.0.1:1", 1), args: []string{"get", "--profile", "sddc", "--timeout", "3s"}, code: 5, ecode: "Unavailable"},
		{name: "wrong CA", config: strings.Replace(good, s.CAFile, other.CAFile, 1), code: 2, ecode: "BadConfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{pwEnv}, tt.env...)
			tk := newTK(t, tt.config, env...)
			args := tt.args
			if args == nil {
				args = []string{"get", "--profile", "sddc"}
			}
			var stdin []byte
			if tt.stdin != "" {
				args, stdin = []string{"get"}, []byte(tt.stdin)
			}
			r := tk.run(t, stdin, args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.code, r.stderr)
			}
			doc := checkErrorOutput(t, r, e2ePassword, "Locked-pw1", "wrong-pw-2")
			if doc.Error.Code != tt.ecode {
				t.Fatalf("error code %q, want %q (%s)", doc.Error.Code, tt.ecode, doc.Error.Message)
			}
			if doc.Error.Retryable != (tt.code == 5) {
				t.Fatalf("retryable = %v for exit %d", doc.Error.Retryable, tt.code)
			}
		})
	}
}

// TestExecOtherUIDRefused: a process of another uid that can reach the
// socket gets no token: the agent checks SO_PEERCRED on every connection.
func TestExecOtherUIDRefused(t *testing.T) {
	nobody := otherUser(t)
	uid := int(nobody.Uid)
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	if r := tk.run(t, nil, "get", "--profile", "sddc"); r.code != 0 {
		t.Fatalf("get as owner: exit %d: %s", r.code, r.stderr)
	}
	sockets, _ := filepath.Glob(filepath.Join(tk.runtime, "tokenkeeper", "*.sock"))
	if len(sockets) != 1 {
		t.Fatalf("sockets: %v", sockets)
	}
	// Open the way to the socket on purpose, as a careless admin might:
	// only the agent's peer check stands between nobody and a token now.
	openToOthers(t, sockets[0], tk.dir, tk.runtime)
	// The client is this test binary (TestExecHelperDial), copied where
	// nobody may run it, speaking raw gRPC: no client-side check helps.
	testBin := filepath.Join(tk.dir, "e2e.test")
	if err := copyFile(os.Args[0], testBin); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	probe := exec.CommandContext(ctx, testBin, "-test.run=^TestExecHelperDial$", "-test.v")
	probe.Env = []string{"TK_E2E_DIAL=" + sockets[0]}
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
	out, err := probe.CombinedOutput()
	if err != nil {
		t.Fatalf("probe as uid %d failed: %v\n%s", uid, err, out)
	}
	if !strings.Contains(string(out), "REFUSED") || strings.Contains(string(out), "SERVED") {
		t.Fatalf("a peer of uid %d was not refused: %s", uid, out)
	}
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(sockets[0]), "*.log"))
	if len(logs) != 1 {
		t.Fatalf("agent logs: %v", logs)
	}
	if b, _ := os.ReadFile(logs[0]); !strings.Contains(string(b), "refused connection from another user") {
		t.Fatalf("the agent log does not record the refusal:\n%s", b)
	}
	// The same probe as the owner is served: the refusal was about the uid.
	own := exec.CommandContext(ctx, testBin, "-test.run=^TestExecHelperDial$", "-test.v")
	own.Env = probe.Env
	if out, err := own.CombinedOutput(); err != nil || !strings.Contains(string(out), "SERVED") {
		t.Fatalf("probe as owner: %v: %s", err, out)
	}
}

// TestExecHelperDial is the client of TestExecOtherUIDRefused; it does
// nothing unless TK_E2E_DIAL names a socket. It prints SERVED or REFUSED,
// never the token.
func TestExecHelperDial(t *testing.T) {
	sock := os.Getenv("TK_E2E_DIAL")
	if sock == "" {
		t.Skip("helper process of TestExecOtherUIDRefused")
	}
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = tokenkeeperv1.NewTokenServiceClient(cc).GetToken(ctx, &tokenkeeperv1.GetTokenRequest{Profile: "sddc"})
	if err != nil {
		fmt.Printf("REFUSED uid %d: %s\n", os.Getuid(), status.Code(err))
		return
	}
	fmt.Printf("SERVED uid %d\n", os.Getuid())
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
