package config

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// want is one expected error: its line, profile, field and a piece of
// its message.
type want struct {
	line           int
	profile, field string
	msg            string
}

// vcf and vcd start a valid-so-far profile on lines 1–4; fixtures add
// lines from 5 on.
var (
	vcf = []string{"profiles:", "  sddc:", "    provider: vcf", "    url: https://sddc.example.com"}
	vcd = []string{"profiles:", "  lab:", "    provider: vcd", "    url: https://vcd.example.com"}
)

func with(head []string, lines ...string) []string {
	return append(append([]string{}, head...), lines...)
}

func TestParseErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		lines []string
		want  []want
	}{
		// Structure and YAML.
		{"tab indentation", []string{"profiles:", "  sddc:", "\tprovider: vcf"},
			[]want{{3, "", "", "invalid YAML: found character that cannot start any token"}}},
		// yaml.v3 reports the line where the enclosing construct starts.
		{"unclosed list", []string{"profiles:", "  sddc: [", "agent: x"},
			[]want{{1, "", "", "invalid YAML: did not find expected ',' or ']'"}}},
		{"two documents", with(vcf, "    username: u", "    password: {env: P}", "---", "profiles: {}"),
			[]want{{7, "", "", "only one YAML document"}}},
		{"empty file", []string{""}, []want{{0, "", "", "the file is empty"}}},
		{"no profiles key", []string{"agent: {idle_timeout: 5m}"}, []want{{1, "", "", "no profiles key"}}},
		{"empty profiles", []string{"profiles: {}"}, []want{{1, "", "profiles", "define at least one profile"}}},
		{"top level is a list", []string{"- a"}, []want{{1, "", "", "top level must be a mapping"}}},
		{"unknown top-level key", with(vcf, "    username: u", "    password: {env: P}", "agnet: {}"),
			[]want{{7, "", "", `unknown key "agnet" (did you mean "agent"?)`}}},
		{"unknown profile key", with(vcf, "    username: u", "    pasword: {env: P}", "    password: {env: P}"),
			[]want{{6, "sddc", "", `unknown key "pasword" (did you mean "password"?)`}}},
		// The typo is the problem: no "username is required" derived from
		// it, and the valid keys listed once, not per unknown key.
		{"typo of a required key", with(vcf, "    usernme: u", "    password: {env: P}", "    colour: red", "    flavour: x"),
			[]want{{5, "sddc", "", `unknown key "usernme" (did you mean "username"?)`},
				{7, "sddc", "", `unknown key "colour"; valid keys: api_key, api_token`},
				{8, "sddc", "", `unknown key "flavour" (the valid keys are listed at line 7)`}}},
		{"typo and another missing key", with(vcf, "    usernme: u"),
			[]want{{5, "sddc", "", `unknown key "usernme" (did you mean "username"?)`},
				{2, "sddc", "password", `needs username and password`}}},
		{"duplicate key", with(vcf, "    username: u", "    password: {env: P}", "    url: https://other.example.com"),
			[]want{{7, "sddc", "", `key "url" is set twice (first at line 4)`}}},
		{"duplicate profile", with(vcf, "    username: u", "    password: {env: P}", "  sddc: {}"),
			[]want{{7, "", "profiles", `key "sddc" is set twice (first at line 2)`}}},
		{"bad profile name", []string{"profiles:", "  bad name:", "    provider: vcf", "    url: https://x.example.com", "    api_key: {env: K}"},
			[]want{{2, "bad name", "", "a profile name must start with a letter or digit"}}},
		{"empty profile", []string{"profiles:", "  sddc:"}, []want{{2, "sddc", "", "must be a mapping of settings"}}},
		{"agent unknown key", with(vcf, "    api_key: {env: K}", "agent:", "  idle: 5m"),
			[]want{{7, "", "agent", `unknown key "idle"; valid keys: idle_timeout`}}},
		{"agent bad idle timeout", with(vcf, "    api_key: {env: K}", "agent:", "  idle_timeout: soon"),
			[]want{{7, "", "agent.idle_timeout", `is not a duration (value not shown)`}}},

		// Secret references.
		{"literal password", with(vcf, "    username: u", "    password: "+canary),
			[]want{{6, "sddc", "password", "a secret must be a reference, not a literal value (not shown here); write {env: NAME}, {file: PATH}, {command: [prog, arg…]} or {vault: {path: PATH, field: KEY}}"}}},
		{"quoted literal api_token", with(vcd, "    org: O", `    api_token: "`+canary+`"`),
			[]want{{6, "lab", "api_token", "not a literal value"}}},
		{"literal service_account", with(vcd, "    org: O", "    service_account: "+canary),
			[]want{{6, "lab", "service_account", "not a literal value"}}},
		{"literal api_key", with(vcf, "    api_key: "+canary), []want{{5, "sddc", "api_key", "not a literal value"}}},
		{"empty password", with(vcf, "    username: u", "    password:"), []want{{6, "sddc", "password", "is empty; a secret is a reference"}}},
		{"password list", with(vcf, "    username: u", "    password: ["+canary+"]"),
			[]want{{6, "sddc", "password", "must be a mapping, not a list"}}},
		{"password mapping keyed by the secret", with(vcf, "    username: u", "    password: {"+canary+"}"),
			[]want{{6, "sddc", "password", "unknown key in a secret reference (not shown"}}},
		{"two sources", with(vcf, "    username: u", "    password: {env: P, file: /x}"),
			[]want{{6, "sddc", "password", "names more than one source"}}},
		{"no source", with(vcf, "    username: u", "    password: {}"), []want{{6, "sddc", "password", "names no source"}}},
		{"env name is a password", with(vcf, "    username: u", "    password: {env: "+canary+"}"),
			[]want{{6, "sddc", "password.env", "must be the name of an environment variable"}}},
		{"command as a string", with(vcf, "    username: u", "    password: {command: echo "+canary+"}"),
			[]want{{6, "sddc", "password.command", "must be a list of the program and its arguments"}}},
		{"empty command", with(vcf, "    username: u", "    password: {command: []}"),
			[]want{{6, "sddc", "password.command", "must name a program"}}},
		{"timeout on env", with(vcf, "    username: u", "    password: {env: P, timeout: 5s}"),
			[]want{{6, "sddc", "password.timeout", "applies only to command references"}}},
		{"timeout is a password", with(vcf, "    username: u", "    password: {env: X, timeout: "+canary+"}"),
			[]want{{6, "sddc", "password.timeout", "is not a duration (value not shown)"}}},
		{"command timeout without unit", with(vcf, "    username: u", "    password: {command: [pass], timeout: 20241231}"),
			[]want{{6, "sddc", "password.timeout", "needs a unit (value not shown)"}}},
		{"env name with a dash", with(vcf, "    username: u", "    password: {env: VCF-PASSWORD}"),
			[]want{{6, "sddc", "password.env", "must be the name of an environment variable"}}},
		{"env name starts with a digit", with(vcf, "    username: u", "    password: {env: 2024Summer}"),
			[]want{{6, "sddc", "password.env", "must be the name of an environment variable"}}},
		{"password is an alias", with(vcf, "    username: u", "    password: *"+canary),
			[]want{{6, "", "", "invalid YAML: unknown anchor (name not shown) referenced; quote a value that starts with * or &"}}},
		{"bad command timeout", with(vcf, "    username: u", "    password: {command: [pass], timeout: 0s}"),
			[]want{{6, "sddc", "password.timeout", "must be greater than zero"}}},

		// Types and values.
		{"duration without unit", with(vcf, "    api_key: {env: K}", "    timeout: 30"),
			[]want{{6, "sddc", "timeout", "needs a unit (value not shown): write e.g. 30s"}}},
		{"bad duration", with(vcf, "    api_key: {env: K}", "    refresh_before: 15x"),
			[]want{{6, "sddc", "refresh_before", `is not a duration (value not shown): use a number with a unit, e.g. 90s, 15m, 1h30m`}}},
		{"negative duration", with(vcf, "    api_key: {env: K}", "    refresh_before: -1m"),
			[]want{{6, "sddc", "refresh_before", "must not be negative"}}},
		{"zero timeout", with(vcf, "    api_key: {env: K}", "    timeout: 0s"),
			[]want{{6, "sddc", "timeout", "must be greater than zero"}}},
		{"bad bool", with(vcf, "    api_key: {env: K}", "    insecure_skip_verify: maybe"),
			[]want{{6, "sddc", "insecure_skip_verify", "must be true or false"}}},
		{"username is a list", with(vcf, "    username: [a, b]", "    password: {env: P}"),
			[]want{{5, "sddc", "username", "must be a string, not a list"}}},
		{"provider is a mapping", []string{"profiles:", "  sddc:", "    provider: {a: b}", "    url: https://x.example.com"},
			[]want{{3, "sddc", "provider", "must be a string, not a mapping"}}},

		// URLs.
		{"missing url", []string{"profiles:", "  sddc:", "    provider: vcf", "    api_key: {env: K}"},
			[]want{{2, "sddc", "url", "is required"}}},
		{"http to a remote host", []string{"profiles:", "  s:", "    provider: vcf", "    url: http://sddc.example.com", "    api_key: {env: K}"},
			[]want{{4, "s", "url", "http is allowed only for 127.0.0.1, ::1 and localhost"}}},
		{"ftp", []string{"profiles:", "  s:", "    provider: vcf", "    url: ftp://sddc.example.com", "    api_key: {env: K}"},
			[]want{{4, "s", "url", "must start with https://"}}},
		{"no scheme", []string{"profiles:", "  s:", "    provider: vcf", "    url: sddc.example.com", "    api_key: {env: K}"},
			[]want{{4, "s", "url", "must start with https://"}}},
		{"credentials in url", []string{"profiles:", "  s:", "    provider: vcf", "    url: https://admin:" + canary + "@sddc.example.com", "    api_key: {env: K}"},
			[]want{{4, "s", "url", "must not contain a user name or password"}}},
		{"no host", []string{"profiles:", "  s:", "    provider: vcf", "    url: https:///v1", "    api_key: {env: K}"},
			[]want{{4, "s", "url", "has no host"}}},
		{"query", []string{"profiles:", "  s:", "    provider: vcf", "    url: https://x.example.com/?a=1", "    api_key: {env: K}"},
			[]want{{4, "s", "url", "must not have a query"}}},

		// Providers.
		{"missing provider", []string{"profiles:", "  s:", "    url: https://x.example.com", "    api_key: {env: K}"},
			[]want{{2, "s", "provider", "is required: vcf (SDDC Manager), vcd (Cloud Director), vcenter (vCenter) or vault"}}},
		{"unknown provider", []string{"profiles:", "  s:", "    provider: vcx", "    url: https://x.example.com"},
			[]want{{3, "s", "provider", `unknown provider (value not shown); valid providers: vault, vcd, vcenter, vcf`}}},
		{"provider is a password", []string{"profiles:", "  s:", "    provider: " + canary, "    url: https://x.example.com"},
			[]want{{3, "s", "provider", `unknown provider`}}},
		{"vcf without credentials", vcf, []want{{2, "sddc", "password", "provider vcf needs username and password"}}},
		{"vcf username only", with(vcf, "    username: u"), []want{{2, "sddc", "password", "is required with username"}}},
		{"vcf password only", with(vcf, "    password: {env: P}"), []want{{2, "sddc", "username", "is required with password"}}},
		{"vcf api_key and password", with(vcf, "    username: u", "    password: {env: P}", "    api_key: {env: K}"),
			[]want{{7, "sddc", "api_key", "either api_key or username and password"}}},
		{"vcf with vcd keys", with(vcf, "    api_key: {env: K}", "    org: O", "    legacy_login: true"),
			[]want{{6, "sddc", "org", "is not used by provider vcf"}, {7, "sddc", "legacy_login", "is not used by provider vcf"}}},
		{"vcd without org", with(vcd, "    username: u", "    password: {env: P}"),
			[]want{{2, "lab", "org", `is required: the organization to log in to, or "System"`}}},
		{"vcd without credentials", with(vcd, "    org: O"),
			[]want{{2, "lab", "password", "needs one of password (with username), api_token or service_account"}}},
		{"vcd password without username", with(vcd, "    org: O", "    password: {env: P}"),
			[]want{{2, "lab", "username", "is required with password"}}},
		{"vcd two credentials", with(vcd, "    org: O", "    username: u", "    password: {env: P}", "    api_token: {env: T}"),
			[]want{{8, "lab", "api_token", "use only one of password, api_token"}}},
		{"vcd username with token", with(vcd, "    org: O", "    username: u", "    api_token: {env: T}"),
			[]want{{6, "lab", "username", "is not used with api_token"}}},
		{"vcd legacy login with token", with(vcd, "    org: O", "    api_token: {env: T}", "    legacy_login: true"),
			[]want{{7, "lab", "legacy_login", "works only with username and password"}}},
		{"vcd api_key", with(vcd, "    org: O", "    api_key: {env: K}"),
			[]want{{6, "lab", "api_key", "is not used by provider vcd"}, {2, "lab", "password", "needs one of"}}},
		{"vcd unquoted integer version", with(vcd, "    org: O", "    api_token: {env: T}", "    api_version: 37"),
			[]want{{7, "lab", "api_version", `must look like "37.0"`}}},
		{"service account from env", with(vcd, "    org: O", "    service_account: {env: SA}"),
			[]want{{6, "lab", "service_account", "must be a file reference ({file: PATH})"}}},
		{"service account dir missing", with(vcd, "    org: O", "    service_account: {file: $DIR/missing/sa}"),
			[]want{{6, "lab", "service_account", "cannot be written back when the token rotates"}}},
		{"service account loose mode", with(vcd, "    org: O", "    service_account: {file: $DIR/loose-secret}"),
			[]want{{6, "lab", "service_account", "chmod 600"}}},

		// TLS.
		{"ca_file missing", with(vcf, "    api_key: {env: K}", "    ca_file: $DIR/nope.pem"),
			[]want{{6, "sddc", "ca_file", "could not read the CA bundle"}}},
		{"ca_file not pem", with(vcf, "    api_key: {env: K}", "    ca_file: not-pem.txt"),
			[]want{{6, "sddc", "ca_file", "holds no PEM certificate"}}},
		{"ca_file and insecure", with(vcf, "    api_key: {env: K}", "    ca_file: ca.pem", "    insecure_skip_verify: true"),
			[]want{{7, "sddc", "insecure_skip_verify", "contradicts ca_file"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := f.parse(tt.lines...)
			if err == nil {
				t.Fatalf("no error, want %d", len(tt.want))
			}
			if cfg != nil {
				t.Error("a Config came back with the error")
			}
			noCanary(t, err)
			assertErrors(t, err, tt.want)
		})
	}
}

// assertErrors checks err holds exactly the wanted errors, in any order.
func assertErrors(t *testing.T, err error, wants []want) {
	t.Helper()
	got := allErrors(t, err)
	if len(got) != len(wants) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(wants), err)
	}
next:
	for _, w := range wants {
		for _, g := range got {
			if g.Line == w.line && g.Profile == w.profile && g.Field == w.field && strings.Contains(g.Error(), w.msg) {
				continue next
			}
		}
		t.Errorf("no error at line %d, profile %q, field %q containing %q; got:\n%v", w.line, w.profile, w.field, w.msg, err)
	}
}

func TestParseCollectsAllErrorsSorted(t *testing.T) {
	f := newFixture(t)
	_, err := f.parse(
		"profiles:",
		"  a:",
		"    provider: vcf",
		"    url: http://remote.example.com",
		"    password: "+canary,
		"    colour: blue",
		"  b:",
		"    provider: vcd",
		"    url: https://vcd.example.com",
		"    timeout: forever",
	)
	noCanary(t, err)
	got := allErrors(t, err)
	var lines []int
	for _, e := range got {
		lines = append(lines, e.Line)
	}
	// a: username missing (2), url (4), literal (5), unknown key (6);
	// b: org and credentials missing (7), bad timeout (10).
	wantLines := []int{2, 4, 5, 6, 7, 7, 10}
	if len(lines) != len(wantLines) {
		t.Fatalf("error lines %v, want %v:\n%v", lines, wantLines, err)
	}
	for i := range lines {
		if lines[i] != wantLines[i] {
			t.Fatalf("error lines %v, want %v (sorted):\n%v", lines, wantLines, err)
		}
	}
	second := strings.Split(err.Error(), "\n")[1]
	if wantPrefix := f.path() + ":4:5: profile \"a\": field \"url\": "; !strings.HasPrefix(second, wantPrefix) {
		t.Fatalf("second line %q does not start with %q", second, wantPrefix)
	}
}

func TestErrorFormat(t *testing.T) {
	cause := errors.New("cause")
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "config.yaml", Line: 12, Profile: "sddc", Field: "password", Msg: "bad"}, `config.yaml:12: profile "sddc": field "password": bad`},
		{Error{File: "config.yaml", Line: 3, Column: 5, Msg: "bad"}, `config.yaml:3:5: bad`},
		{Error{File: "config.yaml", Msg: "empty"}, `config.yaml: empty`},
		{Error{Profile: "p", Msg: "bad", Err: cause}, `profile "p": bad: cause`},
		{Error{Line: 4, Column: 2, Field: "url", Msg: "bad"}, `line 4:2: field "url": bad`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	e := &Error{Msg: "x", Err: fs.ErrNotExist}
	if !errors.Is(e, fs.ErrNotExist) {
		t.Error("Error does not unwrap its cause")
	}
}

func TestValidateProgrammaticProfile(t *testing.T) {
	p := &Profile{Name: "code", Provider: ProviderVCF, URL: "https://x.example.com", APIKey: &secret.Ref{Env: "A", File: "/b"}, Timeout: -1}
	err := p.Validate()
	assertErrors(t, err, []want{
		{0, "code", "timeout", "must not be negative"},
		{0, "code", "api_key", "invalid reference"},
	})
	if !errors.Is(err, secret.ErrInvalidRef) {
		t.Errorf("error %v does not wrap secret.ErrInvalidRef", err)
	}
	ok := &Profile{Name: "ok", Provider: ProviderVCD, URL: "http://127.0.0.1:8443", Org: "System",
		Username: "admin", Password: &secret.Ref{Command: []string{"pass"}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid profile rejected: %v", err)
	}
}
