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
		{"proxy HTML 400", "<html><h1>400 Bad Request</h1></html>", 400, provider.ErrBadConfig,
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

// TestVersionsAnswerNotFromCloudDirector: a wrong url whose server
// answers 200 with HTML (or anything but SupportedVersions) to GET
// /api/versions was "unexpected upstream response" (exit 1); it is bad
// configuration (exit 2) that says what to check, never a rejection.
func TestVersionsAnswerNotFromCloudDirector(t *testing.T) {
	for _, body := range []string{
		"<!DOCTYPE html><html><body>Welcome</body></html>",
		`{"status":"ok"}`,
		"",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, body)
		}))
		p, err := New(Config{URL: srv.URL, Org: "o", Username: "u", Password: staticSecret{canaryPassword}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Login(context.Background())
		srv.Close()
		var perr *provider.Error
		if !errors.Is(err, provider.ErrBadConfig) || !errors.As(err, &perr) || errors.Is(err, provider.ErrCredentialsRejected) {
			t.Fatalf("body %q: err %v, want bad config only", body, err)
		}
		if !strings.Contains(perr.Message, "did not answer like Cloud Director: check the url scheme and port") {
			t.Fatalf("body %q: message %q", body, perr.Message)
		}
	}
}

// TestLoginErrorsReadOnce: the keeper wraps each error as `profile "x":
// log in: …`, `… refresh access token: …` or `… could not read credential:
// …`; the provider's own text names the field or the request and must not
// say what the keeper says again, as in vcf.
func TestLoginErrorsReadOnce(t *testing.T) {
	f := newFixture(t, nil)
	login := func(p *Provider) error { _, err := p.Login(context.Background()); return err }
	credential := func(p *Provider) error { _, err := p.Credential(context.Background()); return err }
	tests := []struct {
		name string
		cfg  Config
		call func(p *Provider) error
		op   string // the keeper's words before the provider's
		want string // the whole message the user reads
	}{
		{"unreadable password", Config{Username: "alice", Password: unreadableSecret{}}, nil, "log in",
			`log in: password: secret command false: `},
		{"unreadable password, guard", Config{Username: "alice", Password: unreadableSecret{}}, credential, "could not read credential",
			`could not read credential: password: secret command false: `},
		{"unreadable api token", Config{APIToken: unreadableSecret{}}, nil, "log in",
			`log in: api_token: secret command false: `},
		{"unreadable api token, guard", Config{APIToken: unreadableSecret{}}, credential, "could not read credential",
			`could not read credential: api_token: secret command false: `},
		{"unreadable service account", Config{ServiceAccount: unreadableStore{}}, nil, "log in",
			`log in: service_account: `},
		{"service account not writable", Config{ServiceAccount: unwritableSecret{&memorySecret{v: canarySAToken}}}, nil, "log in",
			`log in: service_account: the rotated token could not be stored, so the token is not exchanged: `},
		{"wrong password", Config{Username: "alice", Password: staticSecret{"wrong"}}, nil, "log in",
			`log in: POST /cloudapi/1.0.0/sessions: HTTP 401`},
		{"revoked api token", Config{APIToken: staticSecret{"not-" + canaryAPIToken}}, nil, "log in",
			`log in: POST /oauth/tenant/ExampleOrg/token: HTTP 400 invalid_grant: `},
		{"refresh", Config{Username: "alice", Password: staticSecret{canaryPassword}}, func(p *Provider) error {
			_, err := p.Refresh(context.Background(), provider.Grant{})
			return err
		}, "refresh access token", `refresh access token: cloud director sessions cannot be refreshed: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Org = "ExampleOrg"
			call := tt.call
			if call == nil {
				call = login
			}
			err := call(f.provider(t, tt.cfg))
			if err == nil {
				t.Fatal("no error")
			}
			got := tt.op + ": " + err.Error() // as keeper's profile.errorf says it
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("reads %q, want it to start %q", got, tt.want)
			}
			for _, again := range []string{"login:", "log in:", "refresh access token:", "could not read"} {
				if strings.Count(got, again) > strings.Count(tt.op+":", again) {
					t.Fatalf("%q says %q again", got, again)
				}
			}
		})
	}
}

// unreadableStore is a service-account source that cannot be read.
type unreadableStore struct{ unreadableSecret }

func (u unreadableStore) BeginRotation(ctx context.Context) (Rotation, error) {
	_, err := u.Resolve(ctx)
	return nil, err
}

func (unreadableStore) StoreHeld(context.Context, Held) error { return nil }
