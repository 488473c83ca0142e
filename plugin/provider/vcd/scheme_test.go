package vcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// TestPlainHTTPToTLSPort: url http://HOST:PORT of a TLS server. Go answers
// the version discovery with 400 "Client sent an HTTP request to an HTTPS
// server": bad configuration naming the fix, not a rejected credential
// nor an opaque protocol error.
func TestPlainHTTPToTLSPort(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	plain := strings.Replace(srv.URL, "https://", "http://", 1)
	p, err := New(Config{URL: plain, HTTPClient: &http.Client{}, Org: "o", Username: "u", Password: staticSecret{canaryPassword}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Login(context.Background())
	if !errors.Is(err, provider.ErrBadConfig) || errors.Is(err, provider.ErrCredentialsRejected) {
		t.Fatalf("err %v, want ErrBadConfig only", err)
	}
	want := "GET /api/versions: HTTP 400: the server at " + plain + " speaks HTTPS: set url to " + srv.URL + " (bad configuration)"
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err, want)
	}
}

// TestLoginAnswerNotFromCloudDirector: a 400 with a body Cloud Director
// did not write never counts as a rejected credential and says what to
// check; 401 keeps its documented meaning, whatever the body.
func TestLoginAnswerNotFromCloudDirector(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		kind       error
		msg        string
	}{
		{"proxy HTML 400", "<html><h1>400 Bad Request</h1></html>", 400, provider.ErrProtocol,
			"did not answer like Cloud Director: check the url scheme and port"},
		{"nginx plain HTTP on TLS port", "<center>The plain HTTP request was sent to HTTPS port</center>", 400,
			provider.ErrBadConfig, "speaks HTTPS: set url to https://"},
		{"HTML 401 is still a rejection", "<html>Unauthorized</html>", 401, provider.ErrCredentialsRejected, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := stub(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			p, err := New(Config{URL: srv.URL, Org: "o", Username: "u", Password: staticSecret{canaryPassword}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Login(context.Background())
			var perr *provider.Error
			if !errors.Is(err, tt.kind) || !errors.As(err, &perr) {
				t.Fatalf("err %v, want %v", err, tt.kind)
			}
			if tt.kind != provider.ErrCredentialsRejected && errors.Is(err, provider.ErrCredentialsRejected) {
				t.Fatalf("err %v arms the lockout guard", err)
			}
			if !strings.Contains(perr.Message, tt.msg) {
				t.Fatalf("message %q, want %q", perr.Message, tt.msg)
			}
		})
	}
}

// TestLoginErrorsReadOnce: the keeper says "log in: …"; the provider's
// own text must not say "login:" again.
func TestLoginErrorsReadOnce(t *testing.T) {
	f := newFixture(t, nil)
	p := f.provider(t, Config{Org: "ExampleOrg", Username: "alice", Password: unreadableSecret{}})
	_, err := p.Login(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "could not read the password: secret command false") {
		t.Fatalf("err %v", err)
	}
	p = f.provider(t, Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{"wrong"}})
	_, err = p.Login(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "POST /cloudapi/1.0.0/sessions: HTTP 401") {
		t.Fatalf("err %v", err)
	}
}
