package vcd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// echoCanary is a credential with characters every encoding treats
// differently, so that each encoded form is distinct from the raw one.
const echoCanary = `canary-Echo P/w+&<"q>:ü~9`

// canaryForms is every form a server echoing its request may quote a
// value in, computed here independently of the code under test.
func canaryForms(v string) []string {
	b := []byte(v)
	js, _ := json.Marshal(v)
	return []string{v, strings.Trim(string(js), `"`), html.EscapeString(v), url.QueryEscape(v), url.PathEscape(v),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
}

// assertNoEcho fails when text holds any form of any value; it never
// prints the text.
func assertNoEcho(t *testing.T, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		for i, f := range canaryForms(v) {
			if strings.Contains(text, f) {
				t.Fatalf("the error quotes a sent credential (form %d)", i)
			}
		}
	}
}

// echoes quote the request the way a careless server might: header,
// decoded Basic pair, form body, and the credential re-encoded. Each
// returns "" when the request has nothing for it to quote.
var echoes = map[string]func(r *http.Request, body, cred string) string{
	"authorization header": func(r *http.Request, _, _ string) string { return r.Header.Get("Authorization") },
	"basic credential only": func(r *http.Request, _, _ string) string {
		_, c, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		return c
	},
	"decoded basic pair": func(r *http.Request, _, _ string) string {
		if u, pw, ok := r.BasicAuth(); ok {
			return u + ":" + pw
		}
		return ""
	},
	"form body":    func(_ *http.Request, body, _ string) string { return body },
	"raw":          func(_ *http.Request, _, cred string) string { return cred },
	"json-escaped": func(_ *http.Request, _, cred string) string { js, _ := json.Marshal(cred); return string(js) },
	"url-escaped":  func(_ *http.Request, _, cred string) string { return url.QueryEscape(cred) },
	"base64":       func(_ *http.Request, _, cred string) string { return base64.StdEncoding.EncodeToString([]byte(cred)) },
	"base64url": func(_ *http.Request, _, cred string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(cred))
	},
}

// echoServer answers every login or exchange with an error quoting the
// request through echo, in the shape of the endpoint (CloudAPI JSON,
// legacy XML, OAuth JSON); with inCode the quote is the error code. It
// reports whether anything was quoted.
func echoServer(t *testing.T, cred string, echo func(*http.Request, string, string) string, inCode bool) (string, *atomic.Bool) {
	quoted := new(atomic.Bool)
	srv := stub(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		q := echo(r, string(b), cred)
		quoted.Store(q != "")
		msg, code := "request was: "+q, "UNAUTHORIZED"
		if strings.HasPrefix(r.URL.Path, "/oauth/") {
			code = "invalid_grant"
		}
		if inCode {
			code = q
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/oauth/"):
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": msg})
		case r.URL.Path == pathLegacySessions:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `<Error xmlns="http://www.vmware.com/vcloud/v1.5" majorErrorCode="401" minorErrorCode="%s" message="%s"/>`,
				html.EscapeString(code), html.EscapeString(msg))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"minorErrorCode": code, "message": msg})
		}
	})
	return srv.URL, quoted
}

func TestEchoedCredentialsNeverInErrors(t *testing.T) {
	flows := []struct {
		name string
		cfg  Config
		kind error
		code string
	}{
		{"cloudapi login", Config{Org: "o", Username: "u", Password: staticSecret{echoCanary}}, provider.ErrCredentialsRejected, "UNAUTHORIZED"},
		{"legacy login", Config{Org: "o", Username: "u", Password: staticSecret{echoCanary}, LegacyLogin: true}, provider.ErrCredentialsRejected, "UNAUTHORIZED"},
		{"short password", Config{Org: "o", Username: "u", Password: staticSecret{"q7"}}, provider.ErrCredentialsRejected, "UNAUTHORIZED"},
		{"api token exchange", Config{Org: "o", APIToken: staticSecret{echoCanary}}, provider.ErrCredentialsRejected, "invalid_grant"},
		{"service-account exchange", Config{Org: "o", ServiceAccount: &memorySecret{v: echoCanary}}, provider.ErrCredentialsRejected, "invalid_grant"},
	}
	for _, fl := range flows {
		cred := echoCanary
		if fl.name == "short password" {
			cred = "q7"
		}
		sent := []string{cred, "u@o:" + cred, "Basic " + base64.StdEncoding.EncodeToString([]byte("u@o:"+cred)),
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cred}}.Encode()}
		for name, echo := range echoes {
			for _, inCode := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/code=%v", fl.name, name, inCode), func(t *testing.T) {
					cfg := fl.cfg
					var quoted *atomic.Bool
					cfg.URL, quoted = echoServer(t, cred, echo, inCode)
					p, err := New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					_, err = p.Login(context.Background())
					var perr *provider.Error
					if !errors.As(err, &perr) || !errors.Is(err, fl.kind) && !inCode {
						t.Fatalf("err %T %v, want *provider.Error wrapping %v", err, errors.Is(err, fl.kind), fl.kind)
					}
					assertNoEcho(t, err.Error(), sent...)
					if !inCode && perr.Code != fl.code {
						t.Fatalf("code %q: the error code must be kept when it quotes nothing", perr.Code)
					}
					switch {
					case quoted.Load() && !inCode && perr.Message != provider.Withheld:
						t.Fatal("a message quoting the credential must be withheld whole")
					case quoted.Load() && inCode && perr.Code != "":
						t.Fatal("a code quoting the credential must be dropped")
					case !quoted.Load() && perr.Message != "request was:":
						t.Fatalf("message %q: a message quoting nothing must be kept", perr.Message)
					}
				})
			}
		}
	}
}

// hostileServer answers logins and exchanges with success and the given
// token, token type and (for exchanges) rotated refresh token, recording
// every path it is asked for.
type hostileServer struct {
	tok, typ, refresh string
	mu                sync.Mutex
	paths             []string
}

func (h *hostileServer) start(t *testing.T) string {
	return stub(t, func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.paths = append(h.paths, r.Method+" "+r.URL.Path)
		h.mu.Unlock()
		switch r.URL.Path {
		case pathCloudSessions:
			w.Header()[headerAccessToken] = []string{h.tok}
			w.Header()[headerTokenType] = []string{h.typ}
			fmt.Fprint(w, `{"id":"s1"}`)
		case pathLegacySessions:
			w.Header()[provider.HeaderVCloudAuth] = []string{h.tok}
			fmt.Fprint(w, `<Session/>`)
		case pathCurrentSession:
			w.WriteHeader(http.StatusNoContent)
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": h.tok, "token_type": h.typ,
				"expires_in": 60, "refresh_token": h.refresh})
		}
	}).URL
}

func (h *hostileServer) asked(call string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.paths {
		if p == call {
			return true
		}
	}
	return false
}

// A JWT-shaped token the provider accepts.
const goodToken = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"

func TestHostileSessionTokensRefused(t *testing.T) {
	injected := "tok\r\nX-Injected: evil"
	tests := []struct {
		name     string
		cfg      Config
		tok, typ string
		wantType string // "" = ErrProtocol expected
	}{
		{"cloudapi CRLF in token", pwConfig(false), injected, "Bearer", ""},
		{"cloudapi space in token", pwConfig(false), "tok evil", "Bearer", ""},
		{"cloudapi comma in token", pwConfig(false), "tok,evil", "Bearer", ""},
		{"cloudapi missing token", pwConfig(false), "", "Bearer", ""},
		{"cloudapi other token type", pwConfig(false), goodToken, "Basic", ""},
		{"cloudapi token type with a space", pwConfig(false), goodToken, "Bearer evil", ""},
		{"cloudapi lower-case bearer", pwConfig(false), goodToken, "bearer", "Bearer"},
		{"cloudapi no token type", pwConfig(false), goodToken, "", "Bearer"},
		{"legacy CRLF in token", pwConfig(true), injected, "", ""},
		{"legacy space in token", pwConfig(true), "tok evil", "", ""},
		{"legacy token", pwConfig(true), "0123abcd", "", "vcloud"},
		{"exchange CRLF in token", Config{Org: "o", APIToken: staticSecret{"api"}}, injected, "Bearer", ""},
		{"exchange too long token", Config{Org: "o", APIToken: staticSecret{"api"}}, strings.Repeat("a", provider.MaxToken+1), "Bearer", ""},
		{"exchange CRLF in token type", Config{Org: "o", APIToken: staticSecret{"api"}}, goodToken, "Bearer\r\nX-Injected: evil", ""},
		{"exchange mac token type", Config{Org: "o", APIToken: staticSecret{"api"}}, goodToken, "mac", ""},
		{"exchange BEARER", Config{Org: "o", APIToken: staticSecret{"api"}}, goodToken, "BEARER", "Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &hostileServer{tok: tt.tok, typ: tt.typ}
			cfg := tt.cfg
			cfg.URL = h.start(t)
			p, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			g, err := p.Login(context.Background())
			if tt.wantType != "" {
				if err != nil || g.TokenType != tt.wantType || g.Access.Reveal() != tt.tok {
					t.Fatalf("login: %v, token type %q, want %q", err, g.TokenType, tt.wantType)
				}
				return
			}
			var perr *provider.Error
			if !errors.Is(err, provider.ErrProtocol) || !errors.As(err, &perr) {
				t.Fatalf("err %v, want *provider.Error wrapping ErrProtocol", err)
			}
			if !g.Access.IsZero() {
				t.Fatal("a grant came back with the error")
			}
			if msg := err.Error(); strings.Contains(msg, "evil") || strings.Contains(msg, "aaaa") ||
				strings.Contains(msg, "X-Injected") || (tt.tok != "" && strings.Contains(msg, tt.tok)) {
				t.Fatalf("the error quotes the hostile value: %q", msg)
			}
		})
	}
}

func pwConfig(legacy bool) Config {
	return Config{Org: "o", Username: "u", Password: staticSecret{"pw"}, LegacyLogin: legacy}
}

func TestHostileRotatedServiceAccountTokenNotStored(t *testing.T) {
	for _, refresh := range []string{"sa-next\n", "sa-next\r\nX-Injected: evil", "sa next"} {
		t.Run(fmt.Sprintf("%q", refresh), func(t *testing.T) {
			h := &hostileServer{tok: goodToken, typ: "Bearer", refresh: refresh}
			sa := &memorySecret{v: "sa-old"}
			p, err := New(Config{URL: h.start(t), Org: "o", ServiceAccount: sa})
			if err != nil {
				t.Fatal(err)
			}
			g, err := p.Login(context.Background())
			if !errors.Is(err, provider.ErrProtocol) || !g.Access.IsZero() {
				t.Fatalf("login: %v, want ErrProtocol and no grant", err)
			}
			if strings.Contains(err.Error(), "sa-next") || strings.Contains(err.Error(), "evil") {
				t.Fatalf("the error quotes the hostile value: %q", err)
			}
			if len(sa.stores) != 0 || sa.value() != "sa-old" {
				t.Fatal("a malformed rotated token was stored")
			}
			if !h.asked("DELETE " + pathCurrentSession) {
				t.Fatal("the session that is not handed out was not logged out")
			}
		})
	}
	// A well-formed rotated token is still stored.
	h := &hostileServer{tok: goodToken, typ: "Bearer", refresh: "sa-next"}
	sa := &memorySecret{v: "sa-old"}
	p, err := New(Config{URL: h.start(t), Org: "o", ServiceAccount: sa})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Login(context.Background()); err != nil || sa.value() != "sa-next" {
		t.Fatalf("login: %v; stored rotated token: %v", err, sa.value() == "sa-next")
	}
}
