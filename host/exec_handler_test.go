package host

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin"
	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

func execHandler(t testing.TB) (*ExecHandler, *fakeService) {
	t.Helper()
	svc := &fakeService{token: keeper.Token{
		Profile: "p", Provider: "vcf", Access: secret.New("tok"), TokenType: "Bearer",
		HeaderName: "Authorization", HeaderValue: secret.New("Bearer tok"),
		ExpiresAt: time.Now().Add(time.Hour), Fingerprint: "sha256:01",
	}}
	return &ExecHandler{Client: NewClient(plugin.InProcess(svc, nil), nil)}, svc
}

// TestExecHandlerReusesTheLastParse: the same request line again is
// answered from its parse, not parsed again (the calls of a pipeline
// repeat one request); another line, or the first one after it, is
// parsed and answered for what it says.
func TestExecHandlerReusesTheLastParse(t *testing.T) {
	e, svc := execHandler(t)
	ctx := context.Background()
	a := []byte(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","minValidity":"1m"}`)
	b := []byte(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","minValidity":"2m"}`)
	answer := func(line []byte, wantMin time.Duration) {
		t.Helper()
		doc, served := e.Answer(ctx, line)
		if !served || !strings.Contains(string(doc), `"kind":"Token"`) {
			t.Fatalf("%s: served %v, %s", line, served, doc)
		}
		svc.mu.Lock()
		got := svc.gotOpts.MinValidity
		svc.mu.Unlock()
		if got != wantMin {
			t.Fatalf("%s: asked the keeper for min validity %s, want %s", line, got, wantMin)
		}
	}
	for range 3 {
		answer(a, time.Minute)
	}
	if e.parses != 1 {
		t.Fatalf("%d parses of one line answered 3 times, want 1", e.parses)
	}
	answer(b, 2*time.Minute)
	answer(a, time.Minute)
	if e.parses != 3 {
		t.Fatalf("%d parses after two other lines, want 3", e.parses)
	}
	// A line that does not parse is not remembered: it stays an error.
	bad := []byte(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest"}`)
	for range 2 {
		if doc, served := e.Answer(ctx, bad); served || !strings.Contains(string(doc), `"kind":"Error"`) {
			t.Fatalf("a request without a profile: served %v, %s", served, doc)
		}
	}
}

// BenchmarkExecHandlerAnswer: a steady caller's request answered by the
// agent's exec handler over an in-process keeper with the token cached.
func BenchmarkExecHandlerAnswer(b *testing.B) {
	e, _ := execHandler(b)
	ctx := context.Background()
	line := []byte(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p"}`)
	for b.Loop() {
		if _, served := e.Answer(ctx, line); !served {
			b.Fatal("not served")
		}
	}
}
