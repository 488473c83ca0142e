package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestParseTokenRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    TokenRequest
		wantErr string
	}{
		{name: "full", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"sddc","minValidity":"10m","forceRefresh":true}`,
			want: TokenRequest{APIVersion: APIVersion, Kind: KindTokenRequest, Profile: "sddc", MinValidity: Duration(10 * time.Minute), ForceRefresh: true}},
		{name: "minimal with whitespace", in: "\n {\"apiVersion\":\"tokenkeeper/v1\",\"kind\":\"TokenRequest\",\"profile\":\"p\"}\n\n",
			want: TokenRequest{APIVersion: APIVersion, Kind: KindTokenRequest, Profile: "p"}},
		{name: "empty", in: "", wantErr: "no --profile given and no TokenRequest on stdin"},
		{name: "malformed", in: `{"apiVersion":`, wantErr: "truncated JSON"},
		{name: "syntax", in: `{"apiVersion" "x"}`, wantErr: "invalid JSON at byte"},
		{name: "unknown field", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","password":"hunter2"}`, wantErr: `unknown field "password"`},
		{name: "wrong apiVersion", in: `{"apiVersion":"v2","kind":"TokenRequest","profile":"p"}`, wantErr: `apiVersion must be "tokenkeeper/v1"`},
		{name: "wrong kind", in: `{"apiVersion":"tokenkeeper/v1","kind":"Token","profile":"p"}`, wantErr: `kind must be "TokenRequest"`},
		{name: "no profile", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest"}`, wantErr: "profile is required"},
		{name: "two documents", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p"} {}`, wantErr: "more than one JSON document"},
		{name: "bad duration", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","minValidity":"hunter2"}`, wantErr: `field "minValidity": must be a duration string like "10m"`},
		{name: "numeric duration", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","minValidity":600}`, wantErr: `field "minValidity": must be a duration string like "10m"`},
		{name: "negative duration", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","minValidity":"-1m"}`, wantErr: `field "minValidity": must not be negative`},
		{name: "wrong type", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":7}`, wantErr: `field "profile": must be a string`},
		{name: "wrong bool", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","forceRefresh":"hunter2"}`, wantErr: `field "forceRefresh": must be true or false`},
		{name: "null", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":null}`, wantErr: `field "profile": must not be null`},
		{name: "wrong case", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","PROFILE":"sddc"}`, wantErr: `unknown field "PROFILE": did you mean "profile"?`},
		{name: "duplicate other case", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","Profile":"nosuch","profile":"sddc"}`, wantErr: `unknown field "Profile"`},
		{name: "duplicate", in: `{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"nosuch","profile":"sddc"}`, wantErr: `field "profile" appears more than once`},
		{name: "apiVersion not echoed", in: `{"apiVersion":"hunter2","kind":"TokenRequest","profile":"p"}`, wantErr: `TokenRequest: apiVersion must be "tokenkeeper/v1"`},
		{name: "kind not echoed", in: `{"apiVersion":"tokenkeeper/v1","kind":"hunter2","profile":"p"}`, wantErr: `TokenRequest: kind must be "TokenRequest"`},
		{name: "truncated after key", in: `{"apiVersion":"tokenkeeper/v1","kind"`, wantErr: "malformed TokenRequest"},
		{name: "string", in: `"hunter2"`, wantErr: "must be a JSON object"},
		{name: "array", in: `[]`, wantErr: "malformed TokenRequest on stdin: must be a JSON object"},
		{name: "too large", in: `{"apiVersion":"` + strings.Repeat("x", MaxRequest) + `"}`, wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTokenRequest(strings.NewReader(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseTokenRequest: %v", err)
				}
				if got != tt.want {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidArgument {
				t.Fatalf("error %v: want *Error with code InvalidArgument", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error echoes a value from the input")
			}
		})
	}
}

func TestParseInvalidateRequest(t *testing.T) {
	got, err := ParseInvalidateRequest(strings.NewReader(`{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"p","fingerprint":"sha256:00","reason":"401"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile != "p" || got.Fingerprint != "sha256:00" || got.Reason != "401" {
		t.Fatalf("got %+v", got)
	}
	for _, in := range []string{
		`{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"p"}`,
		`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","fingerprint":"f"}`,
		`{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"p","fingerprint":"f","extra":1}`,
		`{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"p","Fingerprint":"f"}`,
		`{"apiVersion":"tokenkeeper/v1","kind":"InvalidateRequest","profile":"p","fingerprint":"f","fingerprint":"g"}`,
	} {
		if _, err := ParseInvalidateRequest(strings.NewReader(in)); err == nil {
			t.Errorf("ParseInvalidateRequest(%s) succeeded", in)
		}
	}
}

func TestExitCodes(t *testing.T) {
	want := map[Code]int{
		CodeInvalidArgument: 2, CodeNotFound: 2, CodeBadConfig: 2, CodeUnauthenticated: 3, CodeFailedPrecondition: 3,
		CodePermissionDenied: 4, CodeUnavailable: 5, CodeInternal: 1, Code("Bogus"): 1,
	}
	for c, w := range want {
		if got := c.ExitCode(); got != w {
			t.Errorf("%s.ExitCode() = %d, want %d", c, got, w)
		}
		if c.Retryable() != (w == 5) {
			t.Errorf("%s.Retryable() = %v", c, c.Retryable())
		}
	}
}

func TestWriteError(t *testing.T) {
	var b bytes.Buffer
	if err := WriteError(&b, Errorf(CodeUnavailable, "upstream <down>")); err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"tokenkeeper/v1","kind":"Error","error":{"code":"Unavailable","message":"upstream <down>","retryable":true}}` + "\n"
	if b.String() != want {
		t.Fatalf("got %s want %s", b.String(), want)
	}
}

func TestWriteErrorRetryAt(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 30, 0, 1, time.FixedZone("X", 3600))
	var b bytes.Buffer
	if err := WriteError(&b, &Error{Code: CodeFailedPrecondition, Message: "guard", RetryAt: at}); err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"tokenkeeper/v1","kind":"Error","error":{"code":"FailedPrecondition","message":"guard","retryable":false,"retryAt":"2026-11-22T11:30:01Z"}}` + "\n"
	if b.String() != want {
		t.Fatalf("got %s want %s", b.String(), want)
	}
	if got := FormatRetryAt(at.Truncate(time.Second)); got != "2026-11-22T11:30:00Z" {
		t.Fatalf("whole second rounded to %s", got)
	}
}

var sample = Token{
	Profile: "sddc", Provider: "vcf", Token: "eyJ.a'b", TokenType: "Bearer",
	Header:      Header{Name: "Authorization", Value: "Bearer eyJ.a'b"},
	ExpiresAt:   time.Date(2026, 11, 22, 12, 40, 0, 123, time.FixedZone("X", 3600)),
	Fingerprint: "sha256:1f2e3d4c5b6a7988",
}

func TestWriteToken(t *testing.T) {
	tests := []struct{ format, want string }{
		{FormatJSON, `{"apiVersion":"tokenkeeper/v1","kind":"Token","profile":"sddc","provider":"vcf","token":"eyJ.a'b","tokenType":"Bearer","header":{"name":"Authorization","value":"Bearer eyJ.a'b"},"expiresAt":"2026-11-22T11:40:00Z","fingerprint":"sha256:1f2e3d4c5b6a7988"}` + "\n"},
		{FormatToken, "eyJ.a'b\n"},
		{FormatHeader, "Authorization: Bearer eyJ.a'b\n"},
		{FormatEnv, "export TOKENKEEPER_TOKEN='eyJ.a'\\''b'\nexport TOKENKEEPER_HEADER_NAME='Authorization'\n" +
			"export TOKENKEEPER_HEADER_VALUE='Bearer eyJ.a'\\''b'\nexport TOKENKEEPER_EXPIRES_AT='2026-11-22T11:40:00Z'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteToken(&b, sample, tt.format); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
			if tt.format == FormatJSON && !json.Valid(b.Bytes()) {
				t.Fatal("invalid JSON")
			}
		})
	}
	if err := WriteToken(&bytes.Buffer{}, sample, "yaml"); err == nil || !ValidFormat("env") || ValidFormat("yaml") {
		t.Fatal("unknown format accepted")
	}
}

// TestShellQuoteRoundTrip evaluates the env output in a real shell.
func TestShellQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	for _, v := range []string{"", "plain", "it's", `$(echo pwned) "q" \n` + "`x`", "a\nb"} {
		out, err := exec.Command(sh, "-c", "x="+ShellQuote(v)+`; printf %s "$x"`).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != v {
			t.Errorf("round trip of %q gave %q", v, out)
		}
	}
}

// An empty stdin is ErrNoRequest, so get can fall back to
// $TOKENKEEPER_PROFILE; a request that is not JSON is not.
func TestReadRequestEmptyIsNoRequest(t *testing.T) {
	_, err := ReadRequest(context.Background(), strings.NewReader(" \n"), KindTokenRequest)
	if !errors.Is(err, ErrNoRequest) {
		t.Errorf("empty stdin: %v, want ErrNoRequest", err)
	}
	if _, err := ReadRequest(context.Background(), strings.NewReader("x"), KindTokenRequest); err == nil || errors.Is(err, ErrNoRequest) {
		t.Errorf("garbage: %v, want another error", err)
	}
}
