package provider

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// echoCanary has characters every encoding treats differently: space, /,
// +, &, <, ", @, : and a non-ASCII letter.
const echoCanary = `canary P/w+&<"q>@x:ü~`

// echoedForms is every form a server echoing its request may send a value
// back in, computed independently of the code under test.
func echoedForms(v string) map[string]string {
	b := []byte(v)
	return map[string]string{
		"raw":           v,
		"json":          `canary P/w+\u0026\u003c\"q\u003e@x:ü~`,
		"json-no-html":  `canary P/w+&<\"q>@x:ü~`,
		"xml":           `canary P/w+&amp;&lt;&#34;q&gt;@x:ü~`,
		"query":         url.QueryEscape(v),
		"path":          url.PathEscape(v),
		"base64":        base64.StdEncoding.EncodeToString(b),
		"base64-raw":    base64.RawStdEncoding.EncodeToString(b),
		"base64url":     base64.URLEncoding.EncodeToString(b),
		"base64url-raw": base64.RawURLEncoding.EncodeToString(b),
	}
}

func TestEchoesEveryEncoding(t *testing.T) {
	s := secret.New(echoCanary)
	for name, form := range echoedForms(echoCanary) {
		t.Run(name, func(t *testing.T) {
			msg := "upstream said: " + form + " (end)"
			if !Echoes(msg, s) {
				t.Fatalf("Echoes misses the %s form", name)
			}
			got := CleanMessage(msg, s)
			for other, f := range echoedForms(echoCanary) {
				if strings.Contains(got, f) {
					t.Fatalf("CleanMessage leaves the %s form (echoed as %s)", other, name)
				}
			}
			if !strings.HasPrefix(got, "upstream said: [REDACTED]") || !strings.HasSuffix(got, " (end)") {
				t.Fatalf("CleanMessage = %q, want only the secret redacted", strings.ReplaceAll(got, form, "<form>"))
			}
		})
	}
	if Echoes("nothing to see", s) || Echoes("anything", secret.Secret{}) {
		t.Fatal("Echoes reports an echo where there is none")
	}
}

func TestCleanMessageShortSecrets(t *testing.T) {
	// A 1–3 character password is still a password: it is scrubbed even
	// though that mangles the message.
	got := CleanMessage("user bob: password xy7 rejected", secret.New("xy7"), secret.New(""))
	if strings.Contains(got, "xy7") || !strings.Contains(got, "password [REDACTED] rejected") {
		t.Fatalf("CleanMessage = %q", got)
	}
	if !Echoes("id=xy7", secret.New("xy7")) {
		t.Fatal("Echoes misses a short secret")
	}
}

func TestCleanMessageLongestFormFirst(t *testing.T) {
	// The Basic credential contains its own base64 form; the whole header
	// value goes, and a short secret never matches inside [REDACTED].
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("u@o:pw"))
	got := CleanMessage("sent "+basic+" as E", secret.New(basic), secret.New("E"), secret.New("u@o:pw"))
	if got != "sent [REDACTED] as [REDACTED]" {
		t.Fatalf("CleanMessage = %q", got)
	}
}

func TestPlausibleToken(t *testing.T) {
	tests := []struct {
		name string
		v    string
		want bool
	}{
		{"jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_", true},
		{"opaque with b64 padding", "abc+/DEF==", true},
		{"uuid", "0e6a3c1e-7a4b-4f4e-9d7a-2b1c3d4e5f60", true},
		{"tilde", "a~b", true},
		{"max length", strings.Repeat("a", MaxToken), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", MaxToken+1), false},
		{"CRLF header injection", "tok\r\nX-Injected: 1", false},
		{"LF", "tok\n", false},
		{"space", "tok en", false},
		{"tab", "tok\ten", false},
		{"colon", "a:b", false},
		{"comma", "a,b", false},
		{"NUL", "a\x00b", false},
		{"DEL", "a\x7fb", false},
		{"non-ASCII", "tokü", false},
		{"html", "<html>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlausibleToken(tt.v); got != tt.want {
				t.Fatalf("PlausibleToken = %v, want %v", got, tt.want)
			}
		})
	}
}
