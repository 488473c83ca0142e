package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host/exec"
)

// withPassword is a caller of c's configuration whose {env} password
// differs, so it has its own agent.
func (c *cliTest) withPassword(pw string) *cliTest {
	env := maps.Clone(c.env)
	env["TK_TEST_PW"] = pw
	return &cliTest{t: c.t, config: c.config, env: env}
}

// statusOf runs `status --json` as c.
func (c *cliTest) statusOf() exec.Status {
	c.t.Helper()
	o := c.run(context.Background(), "", "status", "--json")
	var doc exec.Status
	if err := json.Unmarshal([]byte(o.stdout), &doc); o.code != 0 || err != nil {
		c.t.Fatalf("status --json: exit %d, %v: %s%s", o.code, err, o.stdout, o.stderr)
	}
	return doc
}

// startAgent runs `tokenkeeper agent` in-process as c until the test ends,
// and waits until c's own status sees it (not another caller's agent).
func (c *cliTest) startAgent() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan outcome, 1)
	go func() { done <- c.run(ctx, "", "agent", "--log-level", "off") }()
	c.t.Cleanup(func() {
		cancel()
		if o := <-done; o.code != 0 {
			c.t.Errorf("agent: exit %d: %s", o.code, o.stderr)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !c.statusOf().Agent.Running {
		if time.Now().After(deadline) {
			c.t.Fatal("in-process agent did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStatusShowsEveryAgent: agents of the same file started with other
// {env} values hold tokens too; status shows them all, the caller's first,
// and never says "not running … nothing is cached" while one runs.
func TestStatusShowsEveryAgent(t *testing.T) {
	a := newCLITest(t, nil, testPassword)
	b := a.withPassword("another-" + testPassword)
	a.startAgent()
	b.startAgent()

	doc := a.statusOf()
	if !doc.Agent.Running || doc.Agent.Tag == "" || len(doc.OtherAgents) != 1 {
		t.Fatalf("status: agent %+v, others %+v: want yours running and one other", doc.Agent, doc.OtherAgents)
	}
	other := doc.OtherAgents[0]
	if !other.Running || other.PID != os.Getpid() || other.Tag == doc.Agent.Tag || other.Socket == doc.Agent.Socket {
		t.Fatalf("other agent %+v, yours %+v", other, doc.Agent)
	}
	if len(doc.Profiles) != 2 || doc.Profiles[0].Agent == nil || doc.Profiles[1].Agent == nil ||
		doc.Profiles[0].Agent.Tag != doc.Agent.Tag || doc.Profiles[1].Agent.Tag != other.Tag {
		t.Fatalf("profiles %+v: want yours, then the other agent's, each naming its agent", doc.Profiles)
	}

	o := a.run(context.Background(), "", "status")
	lines := strings.Split(o.stdout, "\n")
	if o.code != 0 || len(lines) < 6 || !strings.HasPrefix(lines[0], "agent: running") ||
		!strings.Contains(lines[1], "agent: running") || !strings.Contains(lines[1], "other values") ||
		!strings.HasPrefix(lines[3], "AGENT ") || strings.Count(o.stdout, "sddc ") != 2 {
		t.Fatalf("status table:\n%s%s", o.stdout, o.stderr)
	}

	// A third view of the environment has no agent of its own, but two run.
	c := a.withPassword("third-" + testPassword)
	o = c.run(context.Background(), "", "status")
	if o.code != 0 || !strings.HasPrefix(o.stdout, "agent: not running for your environment") ||
		strings.Contains(o.stdout, "nothing is cached") || strings.Count(o.stdout, "other values") != 2 {
		t.Fatalf("status of a caller without an agent while two run:\n%s%s", o.stdout, o.stderr)
	}
	if doc := c.statusOf(); doc.Agent.Running || len(doc.OtherAgents) != 2 || len(doc.Profiles) != 2 {
		t.Fatalf("status --json: agent %+v, others %d, profiles %d", doc.Agent, len(doc.OtherAgents), len(doc.Profiles))
	}
}

// TestStatusTableRetryAndError: the RETRY column, and a long error kept
// from its start (what failed) to its end (the upstream code and the
// classification), without the profile prefix the PROFILE column says.
func TestStatusTableRetryAndError(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	retry := now.Add(4*time.Minute + 30*time.Second)
	short := `profile "sddc": log in: POST /v1/tokens: HTTP 400 BAD_CREDENTIALS: Invalid username or password (credentials rejected)`
	long := `profile "sddc": login not attempted: credentials were rejected; will retry after 2026-11-22T12:04:30Z or when the secret changes: ` +
		`log in: POST /v1/tokens: HTTP 400 BAD_CREDENTIALS: Invalid username or password, or the account is locked, see the administrator (credentials rejected)`
	doc := exec.Status{Agent: exec.AgentStatus{Running: true, PID: 7, Socket: "/run/x"}, Profiles: []exec.ProfileStatus{
		{Profile: "sddc", Provider: "vcf", State: "rejected", LastError: short, RetryAt: &retry},
		{Profile: "sddc", Provider: "vcf", State: "rejected", LastError: long, RetryAt: &retry},
		{Profile: "ok", Provider: "vcf", State: "valid"},
	}}
	var b bytes.Buffer
	if err := writeStatusTable(&b, doc, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.Contains(lines[2], "RETRY") || !strings.HasSuffix(strings.TrimSpace(lines[2]), "LAST-ERROR") {
		t.Fatalf("header %q", lines[2])
	}
	if row := lines[3]; !strings.Contains(row, "in 4m30s") || !strings.HasSuffix(row, "  log in: POST /v1/tokens: HTTP 400 BAD_CREDENTIALS: Invalid username or password (credentials rejected)") {
		t.Errorf("short error row %q", row)
	}
	row := lines[4]
	if !strings.Contains(row, "  login not attempted:") || !strings.Contains(row, "BAD_CREDENTIALS") ||
		!strings.HasSuffix(row, "(credentials rejected)") || !strings.Contains(row, " … ") || strings.Contains(row, `profile "sddc"`) {
		t.Errorf("long error row %q", row)
	}
	if n := len([]rune(row[strings.Index(row, "login not"):])); n > lastErrorWidth {
		t.Errorf("LAST-ERROR is %d runes, want at most %d", n, lastErrorWidth)
	}
}
