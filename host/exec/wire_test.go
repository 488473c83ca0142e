package exec

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// awkward are strings encoding/json escapes in every way it knows.
var awkward = []string{
	"", "sddc", "a\"b\\c", "<script>&amp;</script>", "\b\f\n\r\t\x00\x1f\x7f", "\u2028\u2029",
	"\xff\xfe invalid", "\xed\xa0\x80 surrogate", "é 日本 🔑", "\ufffd", "-odd name", "x\u0085y",
}

// TestRequestJSONIsMarshal: the hand-written encoders write what
// json.Marshal writes, for the strings that need escaping and every
// optional field set or not.
func TestRequestJSONIsMarshal(t *testing.T) {
	for _, s := range awkward {
		for _, d := range []Duration{0, Duration(90 * time.Second), Duration(-time.Nanosecond)} {
			for _, flags := range []int{0, 1, 2, 3} {
				checkRequestJSON(t, TokenRequest{APIVersion: APIVersion, Kind: s, Profile: s, MinValidity: d,
					ForceRefresh: flags&1 != 0, AllowShorter: flags&2 != 0})
			}
		}
		checkInvalidateJSON(t, InvalidateRequest{APIVersion: s, Kind: KindInvalidateRequest, Profile: s, Fingerprint: s, Reason: s})
		checkInvalidateJSON(t, InvalidateRequest{Profile: s, Fingerprint: "sha256:00"})
	}
}

// FuzzRequestJSON: for any field values, AppendJSON is json.Marshal.
func FuzzRequestJSON(f *testing.F) {
	for _, s := range awkward {
		f.Add(APIVersion, KindTokenRequest, s, s, int64(time.Minute), true, false)
	}
	f.Fuzz(func(t *testing.T, apiVersion, kind, profile, other string, minValidity int64, force, allow bool) {
		checkRequestJSON(t, TokenRequest{APIVersion: apiVersion, Kind: kind, Profile: profile,
			MinValidity: Duration(minValidity), ForceRefresh: force, AllowShorter: allow})
		checkInvalidateJSON(t, InvalidateRequest{APIVersion: apiVersion, Kind: kind, Profile: profile, Fingerprint: other, Reason: other})
	})
}

func checkRequestJSON(t *testing.T, r TokenRequest) {
	t.Helper()
	want, err := json.Marshal(r)
	if got := r.AppendJSON(nil); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%#v: AppendJSON %q, json.Marshal %q (%v)", r, got, want, err)
	}
}

func checkInvalidateJSON(t *testing.T, r InvalidateRequest) {
	t.Helper()
	want, err := json.Marshal(r)
	if got := r.AppendJSON([]byte("kept")); err != nil || !bytes.Equal(got, append([]byte("kept"), want...)) {
		t.Fatalf("%#v: AppendJSON %q, json.Marshal %q (%v)", r, got, want, err)
	}
}

// agentToken is a Token document as the agent writes it.
var agentToken = string(tokenDoc(Token{Profile: "sddc", Provider: "vcf", Token: "eyJhbGciOi.eyJzdWIi.c2ln",
	TokenType: "Bearer", Header: Header{Name: "Authorization", Value: "Bearer eyJhbGciOi.eyJzdWIi.c2ln"},
	ExpiresAt: time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC), Fingerprint: "sha256:0123456789abcdef",
	ShorterThanRequested: true, URL: "https://sddc.example:8443", CAFile: "/etc/ca.pem", Principal: "svc@vsphere.local", Role: "VIEWER"}))

// tokenDoc is the Token document WriteToken writes in format json.
func tokenDoc(tok Token) []byte {
	var b bytes.Buffer
	_ = WriteToken(&b, tok, FormatJSON)
	return b.Bytes()
}

var answerSeeds = []string{
	agentToken,
	strings.Replace(agentToken, `"shorterThanRequested":true,`, "", 1),
	` {"kind":"Token","header":{},"header":{"name":"a"},"header":{"value":"b"},"kind":"Token2"}` + "\n\t",
	`{"kind":"Token","expiresAt":"2026-12-02T14:00:00+01:00","shorterThanRequested":false}`,
	`{"kind":"Token","expiresAt":"2026-12-02T14:00:00.123456789Z"}`,
	`{"kind":"Token","expiresAt":"2026-13-02T14:00:00Z"}`,
	`{"kind":"Token","expiresAt":null,"token":null}`,
	`{"kind":"Token","Token":"case","TOKEN":"folded"}`,
	`{"kind":"Tok\u0065n","token":"a\nb"}`,
	`{"kind":"Token","token":"` + "\xff" + `"}`,
	`{"kind":"Token","token":"` + "a\tb" + `"}`,
	`{"kind":"Token","shorterThanRequested":"true"}`,
	`{"kind":"Token","shorterThanRequested":truex}`,
	`{"kind":"Token","profile":1}`,
	`{"kind":"Token","extra":[1,{"a":null}]}`,
	`{"apiVersion":"tokenkeeper/v1","kind":"Error","error":{"code":"Unavailable","message":"upstream down","retryable":true}}`,
	`{"kind":"Token",}`, `{"kind":"Token"} {}`, `{"kind":"Token"`, `{}`, `[]`, `null`, ``, `"x"`,
}

// TestDecodeAnswerFastPath: the agent's Token document takes the path
// without reflection, and means what json.Unmarshal reads.
func TestDecodeAnswerFastPath(t *testing.T) {
	for _, doc := range answerSeeds[:5] {
		var a Answer
		if !a.parseToken([]byte(doc)) {
			t.Errorf("%s: not read by the fast path", doc)
		}
	}
	var a, want Answer
	err := DecodeAnswer([]byte(agentToken), &a)
	if err != nil || json.Unmarshal([]byte(agentToken), &want) != nil || !reflect.DeepEqual(a, want) || a.Token.Token == "" || !a.ShorterThanRequested {
		t.Fatalf("DecodeAnswer = %+v, %v; json.Unmarshal %+v", a, err, want)
	}
	doc := []byte(agentToken)
	if n := testing.AllocsPerRun(100, func() { a = Answer{}; _ = DecodeAnswer(doc, &a) }); n > 1 {
		t.Errorf("DecodeAnswer of a Token document: %.0f allocations, want 1 (one string for all fields)", n)
	}
}

// TestDecodeAnswerIsUnmarshal: every seed, fast or not, means what
// json.Unmarshal reads, error included.
func TestDecodeAnswerIsUnmarshal(t *testing.T) {
	for _, doc := range answerSeeds {
		checkAnswer(t, []byte(doc))
	}
}

// FuzzDecodeAnswer: DecodeAnswer is json.Unmarshal for any input.
func FuzzDecodeAnswer(f *testing.F) {
	for _, doc := range answerSeeds {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { checkAnswer(t, doc) })
}

func checkAnswer(t *testing.T, doc []byte) {
	t.Helper()
	var got, want Answer
	err := DecodeAnswer(doc, &got)
	wantErr := json.Unmarshal(doc, &want)
	if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%q: DecodeAnswer %+v, %v; json.Unmarshal %+v, %v", doc, got, err, want, wantErr)
	}
}
