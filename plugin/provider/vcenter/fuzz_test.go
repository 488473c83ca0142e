package vcenter

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// fuzzPassword is sent to the fuzzed server; no error may carry it.
const fuzzPassword = `fuzz-Pa55&"<w>rd`

// fuzzServer answers every path of one endpoint generation alike,
// without a network: status and body for the logins, probeStatus for
// the probe and the logout.
type fuzzServer struct {
	apiStatus, restStatus, probeStatus int
	body                               []byte
}

func (s fuzzServer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	status := s.probeStatus
	if r.Method == http.MethodPost && r.URL.RawQuery == "" {
		status = s.restStatus
		if r.URL.Path == pathAPISession {
			status = s.apiStatus
		}
	}
	return &http.Response{StatusCode: status, Header: http.Header{}, Request: r, Body: io.NopCloser(bytes.NewReader(s.body))}, nil
}

// FuzzVCenterAnswers: whatever vCenter answers to the login at /api and
// at /rest (status, body: a JSON string, {value}, an error shape), the
// probe and the logout, nothing panics; a failure is classified and
// carries no credential that was sent, not even a part of 4+ characters
// of the password in any case; a success holds a plausible session id.
func FuzzVCenterAnswers(f *testing.F) {
	f.Add(uint16(201), uint16(0), []byte(`"b0a1c2d3e4f5"`), uint16(200))
	f.Add(uint16(404), uint16(200), []byte(`{"value":"b0a1c2d3e4f5"}`), uint16(401))
	f.Add(uint16(401), uint16(0), []byte(`{"error_type":"UNAUTHENTICATED","messages":[{"id":"x","default_message":"bad `+fuzzPassword+`"}]}`), uint16(0))
	f.Add(uint16(404), uint16(401), []byte(`{"type":"com.vmware.vapi.std.errors.unauthenticated","value":{"messages":[{"default_message":"FUZZ-PA55"}]}}`), uint16(0))
	f.Add(uint16(503), uint16(0), []byte(`<html>down</html>`), uint16(503))
	f.Add(uint16(200), uint16(0), []byte(`"with space"`), uint16(0))
	f.Fuzz(func(t *testing.T, apiStatus, restStatus uint16, body []byte, probeStatus uint16) {
		srv := fuzzServer{apiStatus: httpStatus(apiStatus), restStatus: httpStatus(restStatus),
			probeStatus: httpStatus(probeStatus), body: body}
		p, err := New(Config{URL: "https://vc.example.com", HTTPClient: &http.Client{Transport: srv},
			Username: "u", Password: staticSecret{fuzzPassword}})
		if err != nil {
			t.Fatal(err)
		}
		primary := secret.New(fuzzPassword)
		g, err := p.Login(t.Context())
		if err != nil {
			checkFailure(t, err, primary, secret.New("u:"+fuzzPassword))
			if provider.EchoesPart(err.Error(), primary) {
				t.Fatalf("a login error quotes part of the password (length %d)", len(err.Error()))
			}
			return
		}
		if !provider.PlausibleToken(g.Access.Reveal()) || g.IdleTimeout <= 0 {
			t.Fatalf("login succeeded with an implausible grant (idle %s)", g.IdleTimeout)
		}
		var session []secret.Secret
		if len(g.Access.Reveal()) >= 8 { // shorter ids are inside ordinary words
			session = append(session, g.Access)
		}
		if err := p.Probe(t.Context(), g); err != nil {
			checkFailure(t, err, session...)
		}
		if err := p.Revoke(t.Context(), g); err != nil {
			checkFailure(t, err, session...)
		}
	})
}

func checkFailure(t *testing.T, err error, sent ...secret.Secret) {
	t.Helper()
	classified := false
	for _, k := range []error{provider.ErrCredentialsRejected, provider.ErrRefreshRejected, provider.ErrForbidden,
		provider.ErrUnavailable, provider.ErrBadConfig, provider.ErrProtocol} {
		classified = classified || errors.Is(err, k)
	}
	if !classified {
		t.Fatalf("failure %v is not classified", err)
	}
	if provider.Echoes(err.Error(), sent...) {
		t.Fatalf("the error carries a credential that was sent (length %d)", len(err.Error()))
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
