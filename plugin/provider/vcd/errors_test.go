package vcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"9.0", "10.0", -1}, {"10.0", "37.0", -1}, {"37.0", "38.1", -1}, {"38.1", "38.0", 1},
		{"37", "37.0", 0}, {"5.5", "5.10", -1}, {"37.0.0-beta", "37.0.0", 1}, {"36.0", "36.0", 0},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_"+tt.b, func(t *testing.T) {
			if got := compareVersions(tt.a, tt.b); got != tt.want {
				t.Fatalf("compareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestSelectVersion(t *testing.T) {
	list := []versionInfo{
		{Version: "36.0"}, {Version: "9.0", Deprecated: true}, {Version: "38.1"},
		{Version: "10.0", Deprecated: true}, {Version: "39.0", Deprecated: true}, {Version: "37.0"},
	}
	allDeprecated := []versionInfo{{Version: "31.0", Deprecated: true}, {Version: "32.0", Deprecated: true}}
	tests := []struct {
		name    string
		list    []versionInfo
		want    string
		legacy  bool
		pick    string
		wantErr error
	}{
		{"highest non-deprecated, numeric order", list, "", false, "38.1", nil},
		{"configured", list, "36.0", false, "36.0", nil},
		{"configured deprecated is allowed", list, "10.0", false, "10.0", nil},
		{"configured written short", list, "37", false, "37.0", nil},
		{"configured missing", list, "35.0", false, "", provider.ErrBadConfig},
		{"legacy skips 38 and later", list, "", true, "37.0", nil},
		{"all deprecated takes the highest", allDeprecated, "", false, "32.0", nil},
		{"empty list", nil, "", false, "", provider.ErrProtocol},
		{"legacy with only new versions", []versionInfo{{Version: "38.0"}}, "", true, "", provider.ErrBadConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectVersion(tt.list, tt.want, tt.legacy)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Version != tt.pick {
				t.Fatalf("selected %q (%v), want %q", got.Version, err, tt.pick)
			}
		})
	}
	_, err := selectVersion(list, "35.0", false)
	if !strings.Contains(err.Error(), "9.0, 10.0, 36.0, 37.0, 38.1, 39.0") {
		t.Fatalf("the error must list the supported versions in order: %v", err)
	}
}

func TestLoginErrors(t *testing.T) {
	pw := staticSecret{canaryPassword}
	tests := []struct {
		name     string
		product  string
		cfg      Config
		kind     error
		code     string
		contains string
	}{
		{"bad password", "10.4", Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{"wrong-" + canaryPassword}},
			provider.ErrCredentialsRejected, "UNAUTHORIZED", "HTTP 401"},
		{"unknown user", "10.4", Config{Org: "ExampleOrg", Username: "nobody", Password: pw},
			provider.ErrCredentialsRejected, "UNAUTHORIZED", "/cloudapi/1.0.0/sessions"},
		{"tenant user as System", "10.4", Config{Org: "System", Username: "alice", Password: pw},
			provider.ErrCredentialsRejected, "UNAUTHORIZED", "/sessions/provider"},
		{"unsupported pinned version", "10.4", Config{Org: "ExampleOrg", Username: "alice", Password: pw, APIVersion: "40.0"},
			provider.ErrBadConfig, "", "32.0, 33.0, 34.0, 35.0, 36.0, 37.0"},
		{"legacy on a 10.5 server", "10.5", Config{Org: "ExampleOrg", Username: "alice", Password: pw, LegacyLogin: true},
			provider.ErrBadConfig, "RESOURCE_NOT_FOUND", "/api/sessions"},
		{"legacy pinned to 38.0", "10.5", Config{Org: "ExampleOrg", Username: "alice", Password: pw, LegacyLogin: true, APIVersion: "38.0"},
			provider.ErrBadConfig, "", "removed in 38.0"},
		{"revoked api token", "10.4", Config{Org: "ExampleOrg", APIToken: staticSecret{"not-" + canaryAPIToken}},
			provider.ErrCredentialsRejected, "invalid_grant", "HTTP 400"},
		{"api token of another org", "10.4", Config{Org: "OtherOrg", APIToken: staticSecret{canaryAPIToken}},
			provider.ErrCredentialsRejected, "invalid_grant", "/oauth/tenant/OtherOrg/token"},
		{"api token on a 9.7 server", "9.7", Config{Org: "ExampleOrg", APIToken: staticSecret{canaryAPIToken}},
			provider.ErrBadConfig, "RESOURCE_NOT_FOUND", "HTTP 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, versionsOf(t, tt.product))
			_, err := f.provider(t, tt.cfg).Login(context.Background())
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err %v, want %v", err, tt.kind)
			}
			var perr *provider.Error
			if tt.code != "" && (!errors.As(err, &perr) || perr.Code != tt.code) {
				t.Fatalf("err %v: want code %q", err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("err %q does not mention %q", err, tt.contains)
			}
			assertNoCanary(t, err.Error(), f.logs.String())
		})
	}
}

func TestLockedAccount(t *testing.T) {
	f := newFixture(t, nil)
	bad := f.provider(t, Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{"wrong"}})
	for range 5 {
		if _, err := bad.Login(context.Background()); !errors.Is(err, provider.ErrCredentialsRejected) {
			t.Fatal(err)
		}
	}
	good := f.provider(t, Config{Org: "ExampleOrg", Username: "alice", Password: staticSecret{canaryPassword}})
	_, err := good.Login(context.Background())
	var perr *provider.Error
	if !errors.Is(err, provider.ErrCredentialsRejected) || !errors.As(err, &perr) || perr.Code != "ACCOUNT_LOCKED" {
		t.Fatalf("locked account: %v", err)
	}
}

// stub answers /api/versions and hands every other request to h.
func stub(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/versions" {
			w.Header().Set("Content-Type", "application/vnd.vmware.vcloud.versions+xml")
			fmt.Fprint(w, `<?xml version="1.0"?><SupportedVersions xmlns="http://www.vmware.com/vcloud/versions">`+
				`<VersionInfo deprecated="false"><Version>37.0</Version><LoginUrl>https://elsewhere.example/cloudapi/1.0.0/sessions</LoginUrl></VersionInfo>`+
				`<VersionInfo deprecated="true"><Version>35.0</Version><LoginUrl>https://elsewhere.example/api/sessions</LoginUrl></VersionInfo>`+
				`</SupportedVersions>`)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestUpstreamErrorDecoding(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		kind        error
		code        string
		msg         string
	}{
		{"xml 401", 401, "application/vnd.vmware.vcloud.error+xml;version=37.0",
			`<Error xmlns="http://www.vmware.com/vcloud/v1.5" majorErrorCode="401" minorErrorCode="UNAUTHORIZED" message="bad creds"/>`,
			provider.ErrCredentialsRejected, "UNAUTHORIZED", "bad creds"},
		{"json 403", 403, "application/json", `{"minorErrorCode":"ACCESS_TO_RESOURCE_IS_FORBIDDEN","message":"no header","stackTrace":"at x.y"}`,
			provider.ErrForbidden, "ACCESS_TO_RESOURCE_IS_FORBIDDEN", "no header"},
		{"empty 401", 401, "", "", provider.ErrCredentialsRejected, "", ""},
		{"406 lists versions", 406, "application/json", `{"minorErrorCode":"NOT_ACCEPTABLE","message":"bad version"}`,
			provider.ErrBadConfig, "NOT_ACCEPTABLE", "it supports 35.0, 37.0"},
		{"503", 503, "text/html", "<html>down</html>", provider.ErrUnavailable, "", ""},
		{"429", 429, "", "", provider.ErrUnavailable, "", ""},
		{"secret echoed", 500, "application/json", `{"minorErrorCode":"X","message":"password ` + canaryPassword + ` bad"}`,
			provider.ErrUnavailable, "X", provider.Withheld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := stub(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != pathCloudSessions {
					t.Errorf("login went to %s", r.URL.Path)
				}
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			p, err := New(Config{URL: srv.URL, Org: "o", Username: "u", Password: staticSecret{canaryPassword}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Login(context.Background())
			var perr *provider.Error
			if !errors.Is(err, tt.kind) || !errors.As(err, &perr) || perr.Code != tt.code || perr.Status != tt.status {
				t.Fatalf("err %v (code %q), want kind %v code %q", err, codeOf(perr), tt.kind, tt.code)
			}
			if !strings.Contains(perr.Message, tt.msg) || strings.Contains(err.Error(), "at x.y") {
				t.Fatalf("message %q, want it to contain %q and no stack trace", perr.Message, tt.msg)
			}
			assertNoCanary(t, err.Error())
		})
	}
}

func codeOf(e *provider.Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

func TestNotAcceptableRediscovers(t *testing.T) {
	var discoveries int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/versions" {
			discoveries++
			fmt.Fprint(w, `<SupportedVersions xmlns="http://www.vmware.com/vcloud/versions"><VersionInfo><Version>37.0</Version></VersionInfo></SupportedVersions>`)
			return
		}
		w.WriteHeader(http.StatusNotAcceptable)
	}))
	defer srv.Close()
	p, err := New(Config{URL: srv.URL, Org: "o", Username: "u", Password: staticSecret{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := p.Login(context.Background()); !errors.Is(err, provider.ErrBadConfig) || !strings.Contains(err.Error(), "supports 37.0") {
			t.Fatalf("login: %v", err)
		}
	}
	if discoveries != 2 {
		t.Fatalf("%d version discoveries, want one per 406", discoveries)
	}
}

func TestTransportFailureIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p, err := New(Config{URL: url, Org: "o", Username: "u", Password: staticSecret{canaryPassword}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Login(context.Background())
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	assertNoCanary(t, err.Error())
}

func TestUntrustedCertificateIsBadConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	p, err := New(Config{URL: srv.URL, HTTPClient: &http.Client{}, Org: "o", Username: "u", Password: staticSecret{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Login(context.Background()); !errors.Is(err, provider.ErrBadConfig) {
		t.Fatalf("err %v, want ErrBadConfig", err)
	}
}

// assertNoCanary fails when any canary secret occurs in texts; it never
// prints the texts themselves.
func assertNoCanary(t *testing.T, texts ...string) {
	t.Helper()
	for i, s := range texts {
		for _, c := range []string{canaryPassword, canaryAPIToken, canarySAToken, "canary-"} {
			if strings.Contains(s, c) {
				t.Fatalf("text %d contains a canary secret", i)
			}
		}
	}
}

// A rejected login whose code or message quotes only part of the password
// — a prefix, an upper-cased copy, a middle piece — is withheld: no part
// of four characters or more of it, in any case, is in the error; the
// status and the rejection stay.
func TestPartialEchoWithheld(t *testing.T) {
	const pw = "Qz7vXk-9Lm#Tr4wQ"
	for name, echo := range map[string]string{"prefix": pw[:7], "upper": strings.ToUpper(pw), "middle": pw[5:11]} {
		for _, field := range []string{"message", "minorErrorCode"} {
			t.Run(name+"/"+field, func(t *testing.T) {
				srv := stub(t, func(w http.ResponseWriter, r *http.Request) {
					body := map[string]string{"minorErrorCode": "UNAUTHORIZED", "message": "bad credentials"}
					body[field] = "got " + echo
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					_ = json.NewEncoder(w).Encode(body)
				})
				p, err := New(Config{URL: srv.URL, Org: "o", Username: "u", Password: staticSecret{pw}})
				if err != nil {
					t.Fatal(err)
				}
				_, err = p.Login(context.Background())
				var perr *provider.Error
				if !errors.Is(err, provider.ErrCredentialsRejected) || !errors.As(err, &perr) || perr.Status != http.StatusUnauthorized {
					t.Fatalf("err %v, want a 401 rejection", err)
				}
				text := strings.ToLower(err.Error() + fmt.Sprintf("%+v %#v", err, err))
				for i := 0; i+4 <= len(pw); i++ {
					if strings.Contains(text, strings.ToLower(pw[i:i+4])) {
						t.Fatalf("part %d of the password is in the error", i)
					}
				}
				if field == "message" && perr.Message != provider.Withheld {
					t.Fatalf("message %q, want it withheld whole", perr.Message)
				}
			})
		}
	}
}
