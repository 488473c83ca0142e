package vcf

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// fuzzPassword is the credential the fuzzed server is sent; no error may
// carry it, whatever the server answers.
const fuzzPassword = `fuzz-Pa55&"<w>rd`

// answers is an in-memory SDDC Manager: each path answers with the fuzzed
// status and body, without a network.
type answers map[string]struct {
	status int
	body   []byte
}

func (a answers) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	ans, ok := a[r.URL.Path]
	if !ok {
		ans.status = http.StatusNotFound
	}
	return &http.Response{StatusCode: ans.status, Header: http.Header{}, Request: r,
		Body: io.NopCloser(bytes.NewReader(ans.body))}, nil
}

// FuzzSDDCManagerAnswers: whatever SDDC Manager answers to a login and
// then to a refresh (status and body: token pair, raw or quoted JWT, error
// JSON, HTML), nothing panics, a failure is a classified *provider.Error
// that carries no secret the call sent (for a login, no part of 4+
// characters of the password in any case), and a success holds plausible
// tokens and a positive lifetime.
func FuzzSDDCManagerAnswers(f *testing.F) {
	jwt := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"iat":1700000000,"exp":1700003600}`)) + ".sig"
	f.Add(uint16(200), []byte(`{"accessToken":"`+jwt+`","refreshToken":{"id":"b3f1c2d4-0000-4000-8000-000000000001"}}`),
		uint16(200), []byte(jwt))
	f.Add(uint16(201), []byte(`{"accessToken":"`+jwt+`","refreshToken":"rid"}`), uint16(200), []byte(`"`+jwt+`"`))
	f.Add(uint16(400), []byte(`{"errorCode":"BAD_CREDENTIALS","message":"Invalid `+fuzzPassword+`","remediationMessage":"x"}`),
		uint16(0), []byte(nil))
	f.Add(uint16(401), []byte(`{"errorCode":"USER_ACCOUNT_LOCKED"}`), uint16(0), []byte(nil))
	f.Add(uint16(200), []byte("<!DOCTYPE html><html>portal</html>"), uint16(0), []byte(nil))
	f.Add(uint16(200), []byte(`{"accessToken":"a b","refreshToken":{"id":"\r\n"}}`), uint16(400), []byte(`{"message":"`+base64.StdEncoding.EncodeToString([]byte(fuzzPassword))+`"}`))
	f.Add(uint16(302), []byte(""), uint16(500), []byte("<html>"))
	f.Fuzz(func(t *testing.T, loginStatus uint16, loginBody []byte, refreshStatus uint16, refreshBody []byte) {
		srv := answers{
			pathTokens:  {httpStatus(loginStatus), loginBody},
			pathRefresh: {httpStatus(refreshStatus), refreshBody},
			pathRevoke:  {httpStatus(refreshStatus), refreshBody},
		}
		p, err := New(Config{URL: "https://sddc.example.com", HTTPClient: &http.Client{Transport: srv},
			Username: "u", Password: &staticSecret{v: fuzzPassword}})
		if err != nil {
			t.Fatal(err)
		}
		g, err := p.Login(t.Context())
		if err != nil {
			// A login failure quotes no part of 4+ characters of the
			// password, in any case (provider.EchoesPart).
			checkFailure(t, err, true, secret.New(fuzzPassword))
			return
		}
		if !provider.PlausibleToken(g.Access.Reveal()) || !provider.PlausibleToken(g.Refresh.Reveal()) || g.AccessLifetime <= 0 {
			t.Fatalf("login succeeded with an implausible grant (lifetime %s)", g.AccessLifetime)
		}
		// The refresh id the server chose: one too short to be kept out
		// of any text is not checked.
		var refresh []secret.Secret
		if len(g.Refresh.Reveal()) >= 8 {
			refresh = append(refresh, g.Refresh)
		}
		r, err := p.Refresh(t.Context(), g)
		if err != nil {
			checkFailure(t, err, false, refresh...)
		} else if !provider.PlausibleToken(r.Access.Reveal()) || r.AccessLifetime <= 0 {
			t.Fatalf("refresh succeeded with an implausible grant (lifetime %s)", r.AccessLifetime)
		}
		if err := p.Revoke(t.Context(), g); err != nil {
			checkFailure(t, err, false, refresh...)
		}
	})
}

// checkFailure: err is a classified *provider.Error that carries none of
// the secrets the call sent, whole in any encoding, or with partial any
// part of 4+ characters in any case. (What the call did not send, the
// server may say: that is no leak.)
func checkFailure(t *testing.T, err error, partial bool, sent ...secret.Secret) {
	t.Helper()
	pe, ok := err.(*provider.Error)
	if !ok || pe.Kind == nil {
		t.Fatalf("failure %T is not a classified *provider.Error", err)
	}
	if provider.Echoes(err.Error(), sent...) || (partial && provider.EchoesPart(err.Error(), sent...)) {
		t.Fatalf("the error carries (part of) a secret the call sent (length %d)", len(err.Error()))
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
