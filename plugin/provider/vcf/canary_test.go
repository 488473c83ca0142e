package vcf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// TestCanaryNoSecretInErrorsOrLogs drives every path — success, rejection,
// lockout, faults, and a server that echoes what it was sent — with trace
// logging, and looks for the password, the refresh id and every access
// token in all log lines and error strings.
func TestCanaryNoSecretInErrorsOrLogs(t *testing.T) {
	l := newLab(t, nil)
	ctx := t.Context()
	var errs []error
	var secrets []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	p := l.provider(viewUser, viewPass)
	impatient := l.newProvider(Config{Username: viewUser, Password: &staticSecret{v: viewPass}}, 500*time.Millisecond)
	g, err := p.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, viewPass, g.Refresh.Reveal(), g.Access.Reveal())
	r, err := p.Refresh(ctx, g)
	note(err)
	secrets = append(secrets, r.Access.Reveal())
	for _, fault := range []string{
		`{"path":"/v1/tokens/access-token/refresh","status":503}`,
		`{"path":"/v1/tokens/access-token/refresh","reset":true}`,
	} {
		l.simPost("/_sim/faults", fault)
		_, err = p.Refresh(ctx, g)
		note(err)
	}
	l.simPost("/_sim/faults", `{"path":"/v1/tokens/access-token/refresh","delay":"5s"}`)
	_, err = impatient.Refresh(ctx, g)
	note(err)
	note(p.Revoke(ctx, g))
	_, err = p.Refresh(ctx, g) // 404 now
	note(err)

	bad := l.provider(viewUser, "wrong-canary-pw")
	secrets = append(secrets, "wrong-canary-pw")
	// Nor a fast hash of the login material (the old credential
	// fingerprint, its full SHA-256): a password guess is cheap to test.
	for _, pw := range []string{viewPass, "wrong-canary-pw"} {
		sum := sha256.Sum256([]byte(viewUser + "\x00" + pw))
		secrets = append(secrets, hex.EncodeToString(sum[:8]), hex.EncodeToString(sum[:]))
	}
	for range 6 { // the sixth is refused as locked
		_, err = bad.Login(ctx)
		note(err)
	}
	_, err = p.Login(ctx) // locked, right password
	note(err)

	errs = append(errs, echoingServer(t, l, &secrets)...)

	if len(errs) < 12 {
		t.Fatalf("only %d errors produced; the canary proves little", len(errs))
	}
	var texts []string
	for _, e := range errs {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
	}
	logs := l.logs.String()
	if !strings.Contains(logs, "refresh rejected") {
		t.Fatal("trace logging produced nothing to check")
	}
	texts = append(texts, logs)
	for _, text := range texts {
		for i, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Fatalf("secret #%d leaked into an error or log line", i)
			}
		}
	}
}

// echoingServer answers every token call with an error that quotes the
// request body, as a careless upstream might.
func echoingServer(t *testing.T, l *lab, secrets *[]string) []error {
	t.Helper()
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": "ECHO " + string(b), "message": "you sent " + string(b)})
	}))
	hc, _ := provider.NewHTTPClient(provider.HTTPOptions{CAFile: ca})
	const pw, id = `echo-canary"pass\word<>`, "echo-canary-refresh-id"
	*secrets = append(*secrets, pw, id)
	p, err := New(Config{URL: srv.URL, HTTPClient: hc, Username: "u", Password: &staticSecret{v: pw}, Logger: l.logger()})
	if err != nil {
		t.Fatal(err)
	}
	_, e1 := p.Login(t.Context())
	_, e2 := p.Refresh(t.Context(), provider.Grant{Refresh: secretOf(id)})
	e3 := p.Revoke(t.Context(), provider.Grant{Refresh: secretOf(id)})
	for _, e := range []error{e1, e2, e3} {
		if e == nil {
			t.Fatal("echoing server accepted")
		}
	}
	return []error{e1, e2, e3}
}

// TestCanaryPartialEchoes: a server quoting only part of the password — a
// prefix, an upper-cased copy, a middle piece — in a rejected login's code,
// message or remediation leaves no part of four characters or more of it,
// in any case, in the error or the logs; status and class stay.
func TestCanaryPartialEchoes(t *testing.T) {
	const pw = "Qz7vXk-9Lm#Tr4wQ"
	l := newLab(t, nil)
	for name, echo := range map[string]string{"prefix": pw[:7], "upper": strings.ToUpper(pw), "middle": pw[5:11]} {
		for _, field := range []string{"message", "remediationMessage", "errorCode"} {
			t.Run(name+"/"+field, func(t *testing.T) {
				srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body := map[string]string{"errorCode": "BAD_CREDENTIALS", "message": "Invalid credentials"}
					body[field] = "got " + echo
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					_ = json.NewEncoder(w).Encode(body)
				}))
				hc, _ := provider.NewHTTPClient(provider.HTTPOptions{CAFile: ca})
				p, err := New(Config{URL: srv.URL, HTTPClient: hc, Username: "u", Password: &staticSecret{v: pw}, Logger: l.logger()})
				if err != nil {
					t.Fatal(err)
				}
				_, err = p.Login(t.Context())
				pe := perr(t, err, provider.ErrCredentialsRejected)
				if pe.Status != http.StatusUnauthorized {
					t.Fatalf("status %d lost", pe.Status)
				}
				text := strings.ToLower(err.Error() + fmt.Sprintf("%+v %#v", err, err) + l.logs.String())
				for i := 0; i+4 <= len(pw); i++ {
					if strings.Contains(text, strings.ToLower(pw[i:i+4])) {
						t.Fatalf("part %d of the password is in the error or the logs", i)
					}
				}
			})
		}
	}
}
