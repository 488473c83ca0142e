package vcd

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Credentials the fuzzed server is sent; no error may carry them.
const (
	fuzzPassword = `fuzz-Pa55&"<w>rd`
	fuzzAPIToken = "qx7J-Wv2m9ZkR4p" // no English in it: messages name the token path
)

// answer is what the in-memory Cloud Director says to one path.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// server answers by path, without a network; other paths get 404.
type server map[string]answer

func (s server) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	a, ok := s[r.URL.Path]
	if !ok {
		a.status = http.StatusNotFound
	}
	h := a.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: a.status, Header: h, Request: r, Body: io.NopCloser(bytes.NewReader(a.body))}, nil
}

const fuzzVersions = `<?xml version="1.0"?><SupportedVersions xmlns="http://www.vmware.com/vcloud/versions">` +
	`<VersionInfo deprecated="false"><Version>37.0</Version><LoginUrl>https://vcd/cloudapi/1.0.0/sessions</LoginUrl></VersionInfo>` +
	`<VersionInfo deprecated="true"><Version>33.0</Version><LoginUrl>https://vcd/api/sessions</LoginUrl></VersionInfo></SupportedVersions>`

// FuzzCloudDirectorAnswers: whatever Cloud Director answers to the
// version list (XML), the login (status, token headers, session JSON or
// XML, error XML/JSON), the OAuth exchange (token JSON), the session
// probe and the logout, nothing panics; a failure is classified (one of
// the provider's error kinds) and carries no credential the call sent, in
// any encoding Echoes knows (a login error not even a part of 4+
// characters of the password or token, in any case); a success holds a plausible token and no
// negative lifetime.
func FuzzCloudDirectorAnswers(f *testing.F) {
	jwt := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"iat":1700000000,"exp":1700086400}`)) + ".sig"
	f.Add(uint8(0), []byte(fuzzVersions), uint16(200), jwt, "Bearer", []byte(`{"id":"s1","sessionIdleTimeoutMinutes":30}`), uint16(200))
	f.Add(uint8(1), []byte(fuzzVersions), uint16(200), "legacy-session-token", "", []byte(`<Session/>`), uint16(204))
	f.Add(uint8(2), []byte(fuzzVersions), uint16(200), "", "", []byte(`{"access_token":"`+jwt+`","token_type":"Bearer","expires_in":2592000,"refresh_token":"r2"}`), uint16(200))
	f.Add(uint8(2), []byte(fuzzVersions), uint16(200), "", "", []byte(`{"access_token":"x","expires_in":1e300}`), uint16(200))
	f.Add(uint8(0), []byte(fuzzVersions), uint16(401), "", "", []byte(`<Error minorErrorCode="UNAUTHORIZED" message="bad `+fuzzPassword+`"/>`), uint16(0))
	f.Add(uint8(0), []byte(fuzzVersions), uint16(400), "", "", []byte(`<html>400</html>`), uint16(0))
	f.Add(uint8(2), []byte(fuzzVersions), uint16(400), "", "", []byte(`{"error":"invalid_grant","error_description":"`+fuzzAPIToken+`"}`), uint16(0))
	f.Add(uint8(0), []byte(fuzzVersions), uint16(406), "", "", []byte(`{"minorErrorCode":"NOT_ACCEPTABLE","message":"`+base64.StdEncoding.EncodeToString([]byte("u@o:"+fuzzPassword))+`"}`), uint16(0))
	f.Add(uint8(0), []byte("<!DOCTYPE html><html></html>"), uint16(200), "", "", []byte(nil), uint16(0))
	f.Add(uint8(0), []byte(`<SupportedVersions><VersionInfo><Version>x.y</Version></VersionInfo></SupportedVersions>`), uint16(200), jwt, "bearer", []byte(`{"sessionIdleTimeoutMinutes":-1e308}`), uint16(401))
	f.Fuzz(func(t *testing.T, mode uint8, versions []byte, status uint16, token, tokenType string, body []byte, probeStatus uint16) {
		st, ps := httpStatus(status), httpStatus(probeStatus)
		hdr := http.Header{}
		hdr.Set(headerAccessToken, token)
		hdr.Set(headerTokenType, tokenType)
		hdr.Set("x-vcloud-authorization", token)
		login := answer{st, hdr, body}
		probe := answer{status: ps, body: body}
		srv := server{"/api/versions": {status: 200, body: versions},
			pathCloudSessions: login, pathProviderSession: login, pathLegacySessions: login,
			"/oauth/tenant/o/token": login, pathCurrentSession: probe, pathLegacySession: probe}
		cfg := Config{URL: "https://vcd.example.com", HTTPClient: &http.Client{Transport: srv}, Org: "o"}
		// sent is what this profile sends: only that may not come back
		// (a server may well say something it was never told).
		primary := secret.New(fuzzPassword)
		sent := []secret.Secret{primary, secret.New("u@o:" + fuzzPassword)}
		switch mode % 3 {
		case 0:
			cfg.Username, cfg.Password = "u", staticSecret{fuzzPassword}
		case 1:
			cfg.Username, cfg.Password, cfg.LegacyLogin = "u", staticSecret{fuzzPassword}, true
		default:
			primary = secret.New(fuzzAPIToken)
			cfg.APIToken, sent = staticSecret{fuzzAPIToken}, []secret.Secret{primary}
		}
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		g, err := p.Login(t.Context())
		if err != nil {
			checkFailure(t, err, sent)
			if provider.EchoesPart(err.Error(), primary) {
				t.Fatalf("a login error quotes part of the credential (length %d) ", len(err.Error()))
			}
			return
		}
		if !provider.PlausibleToken(g.Access.Reveal()) || g.AccessLifetime < 0 || g.IdleTimeout < 0 {
			t.Fatalf("login succeeded with an implausible grant (lifetime %s, idle %s)", g.AccessLifetime, g.IdleTimeout)
		}
		// The session token the server chose: one too short to be kept
		// out of any text ("x" is in "unexpected") is not checked.
		var session []secret.Secret
		if len(g.Access.Reveal()) >= 8 {
			session = append(session, g.Access)
		}
		if err := p.Probe(t.Context(), g); err != nil {
			checkFailure(t, err, session)
		}
		if err := p.Revoke(t.Context(), g); err != nil {
			checkFailure(t, err, session)
		}
	})
}

func checkFailure(t *testing.T, err error, sent []secret.Secret) {
	t.Helper()
	classified := false
	for _, k := range []error{provider.ErrCredentialsRejected, provider.ErrRefreshRejected, provider.ErrForbidden,
		provider.ErrUnavailable, provider.ErrBadConfig, provider.ErrProtocol} {
		classified = classified || errors.Is(err, k)
	}
	if !classified {
		t.Fatalf("failure %v is not classified", err)
	}
	msg := err.Error()
	if provider.Echoes(msg, sent...) {
		t.Fatalf("the error carries a credential that was sent (length %d)", len(msg))
	}
}

// httpStatus keeps a fuzzed status that is one (100–599), else maps it
// into that range.
func httpStatus(v uint16) int {
	if v >= 100 && v <= 599 {
		return int(v)
	}
	return 100 + int(v)%500
}
