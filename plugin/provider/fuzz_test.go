package provider

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// FuzzJWTLifetime: any header and claims, as an unsigned JWT. The
// lifetime is positive when there is one; nothing panics.
func FuzzJWTLifetime(f *testing.F) {
	for _, c := range []struct{ header, claims string }{
		{`{"alg":"RS256","typ":"JWT"}`, `{"iat":1700000000,"exp":1700003600}`},
		{`{"alg":"none"}`, `{"nbf":1700000000,"exp":1700000020}`},
		{`{"alg":"HS256"}`, `{"exp":1700000020}`},
		{`{"alg":"HS256"}`, `{"iat":1700003600,"exp":1700000000}`},
		{`{"alg":"HS256"}`, `{"iat":1.5e300,"exp":-1e300}`},
		{`{"alg":"HS256"}`, `{"iat":"1700000000","exp":[1]}`},
		{`{}`, `{"exp":9223372036854775807,"iat":-9223372036854775808}`},
	} {
		f.Add(c.header, c.claims, "sig")
	}
	f.Fuzz(func(t *testing.T, header, claims, sig string) {
		enc := base64.RawURLEncoding.EncodeToString
		for _, tok := range []string{enc([]byte(header)) + "." + enc([]byte(claims)) + "." + sig, header + "." + claims} {
			d, err := JWTLifetime(tok, time.Unix(1700000000, 0))
			if err == nil && d <= 0 {
				t.Fatalf("lifetime %s without an error", d)
			}
			if err != nil && strings.Contains(err.Error(), claims) && len(claims) > 8 {
				t.Fatal("the error quotes the token")
			}
		}
	})
}

// redactedChars are those of CleanMessage's "[REDACTED]": a secret made of
// them could be spelled by what surrounds a replacement, which is no leak.
const redactedChars = "[]REDACT"

// FuzzCleanMessage: a secret echoed in any form Echoes names (raw, JSON,
// HTML, query or path escaped, base64 in four variants), anywhere in a
// message, is detected and leaves no form behind after CleanMessage.
// The secret is printable ASCII without space (control characters and
// spaces become spaces in the output, which could spell it anew).
//
// EchoesPart, which login errors are withheld by, must also see any piece
// of 4 or more characters of the secret, in any case.
func FuzzCleanMessage(f *testing.F) {
	f.Add("upstream said: ", `canary P/w+&<"q>@x:ü~`, " (end)", uint8(0))
	f.Add(`{"message":"bad password `, "hunter2hunter2", `"}`, uint8(1))
	f.Add("<Error message=\"", `p&ss<w>rd"`, `"/>`, uint8(3))
	f.Add("Basic ", "dXNlcjpwYXNz", "", uint8(6))
	f.Add("", "aaaa", "aaaa", uint8(0))
	f.Fuzz(func(t *testing.T, prefix, raw, suffix string, form uint8) {
		if len(raw) < 4 || strings.ContainsAny(raw, redactedChars) {
			return
		}
		for _, r := range raw {
			if r <= ' ' || r >= 0x7f {
				return
			}
		}
		s := secret.New(raw)
		forms := encodings(raw)
		msg := prefix + forms[int(form)%len(forms)] + suffix
		if !Echoes(msg, s) {
			t.Fatalf("Echoes misses form %d", int(form)%len(forms))
		}
		got := CleanMessage(msg, s)
		for i, f := range forms {
			if f != "" && !strings.Contains("[REDACTED]", f) && strings.Contains(got, f) {
				t.Fatalf("form %d of the secret survives CleanMessage (output length %d)", i, len(got))
			}
		}
		// Any piece of 4+ characters, in another case, is an echo for
		// EchoesPart (which withholds login errors whole).
		at := int(form) % (len(raw) - 3)
		piece := raw[at : at+4+int(form)%(len(raw)-at-3)]
		for _, p := range []string{piece, strings.ToUpper(piece), strings.ToLower(piece)} {
			if !EchoesPart(prefix+p+suffix, s) {
				t.Fatalf("EchoesPart misses a %d-character piece of the secret", len(p))
			}
		}
	})
}
