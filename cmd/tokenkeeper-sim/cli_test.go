package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcd"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcenter"
	"github.com/tokenkeeper/tokenkeeper/internal/testutil"
)

func TestUserFlagVCDRoles(t *testing.T) {
	const pw = "s3cretPW"
	tests := []struct {
		in      string
		want    UserSpec
		wantErr string
	}{
		{in: "u@Org=" + pw + ":ORG_ADMIN", wantErr: `did you mean "Organization Administrator"`},
		{in: "u@Org=" + pw + ":Org Admin", wantErr: `did you mean "Organization Administrator"`},
		{in: "u@System=" + pw + ":SYS_ADMIN", wantErr: `did you mean "System Administrator"`},
		{in: "u@Org=" + pw + ":Catalog Writer", wantErr: `"Catalog Author"`},
		{in: "u@Org=" + pw + ":ORGADMIN", wantErr: `"Defer to Identity Provider"`},
		{in: "u@Org=" + pw + ":ORGANIZATION_ADMINISTRATOR", want: UserSpec{"u@Org", pw, "Organization Administrator"}},
		{in: "u@Org=" + pw + ":vapp-user", want: UserSpec{"u@Org", pw, "vApp User"}},
		{in: "u@Org=a:b:System Administrator", want: UserSpec{"u@Org", "a:b", "System Administrator"}},
		{in: "u@Org=" + pw + ":OrgAdmin", wantErr: `did you mean "Organization Administrator"`},
		{in: "u@Org=" + pw + ":SysAdmin", wantErr: `did you mean "System Administrator"`},
		{in: "u@Org=" + pw + ":CatalogAuthor", wantErr: `did you mean "Catalog Author"`},
		{in: "u@Org=" + pw + ":vAppUser", wantErr: `roles:`},
		{in: "u@Org=" + pw + ":ConsoleUser", wantErr: `roles:`},
		{in: "u@Org=" + pw + ":OrgAdmin:vApp User", want: UserSpec{"u@Org", pw + ":OrgAdmin", "vApp User"}},
		{in: "u@Org=" + pw + ":hello", want: UserSpec{"u@Org", pw + ":hello", ""}},
		{in: "u@Org=" + pw + ":Hello", want: UserSpec{"u@Org", pw + ":Hello", ""}},
		{in: "u@Org=" + pw + ":Passw0rdX", want: UserSpec{"u@Org", pw + ":Passw0rdX", ""}},
		{in: "u@Org=" + pw + ":ORG_ADMIN:Catalog Author", want: UserSpec{"u@Org", pw + ":ORG_ADMIN", "Catalog Author"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var got []UserSpec
			err := (&userList{roles: vcd.Roles, list: &got}).Set(tc.in)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "roles:") {
					t.Fatalf("error %q lacks %q and the role list", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), pw) {
					t.Fatal("the error repeats the password")
				}
				return
			}
			if err != nil || len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestFlagErrors: usage errors spell flags --name, name what is wrong,
// and never repeat a secret given on the command line.
func TestFlagErrors(t *testing.T) {
	const secret = "Zz9-secret"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"vcf", "-bogus"}, "unknown flag --bogus"},
		{[]string{"vcf", "--bogus=1"}, "unknown flag --bogus"},
		{[]string{"vcf", "--user"}, "flag --user needs a value"},
		{[]string{"vcf", "--access-ttl", "soon"}, `invalid value "soon" for --access-ttl: want a duration`},
		{[]string{"vcf", "--tls=maybe"}, "for --tls: want true or false"},
		{[]string{"vcf", "--bad-credentials-status", "403"}, "--bad-credentials-status \"403\": want 400|401"},
		{[]string{"vcf", "--locked-status", "403"}, "want 400|401"},
		{[]string{"vcf", "--login-status", "204"}, "want 200|201"},
		{[]string{"vcd", "--access-ttl", "1h"}, "--access-ttl does not apply to the vcd simulator"},
		{[]string{"vcd", "--refresh-ttl", "1h"}, "--refresh-ttl does not apply to the vcd simulator"},
		{[]string{"vcf", "--idle-timeout", "1m"}, "--idle-timeout does not apply to the vcf simulator"},
		{[]string{"vcf", "--service-account", secret}, "--service-account does not apply to the vcf simulator"},
		{[]string{"vcd", "--user", "u@Org=" + secret + ":ORG_ADMIN"}, `--user u@Org: the text after the last ':' looks like a role`},
		{[]string{"vcd", "--user", "alice@ExampleOrg=" + secret + ":OrgAdmin"}, `--user alice@ExampleOrg: the text after the last ':' looks like a role but is not one (did you mean "Organization Administrator"?)`},
		{[]string{"vcf", "--user", "=" + secret}, "--user wants NAME=PASSWORD[:ROLE]"},
		{[]string{"vcf", "--api-token", secret + ":"}, "--api-token TOKEN:USER with an empty USER"},
		{[]string{"vcd", "--user", "nobody=" + secret}, "the name must be user@org"},
		{[]string{"vcenter", "--api-token", secret}, "--api-token does not apply to the vcenter simulator"},
		{[]string{"vcenter", "--api-version", "eight"}, `api version "eight" is not a vSphere release like 8.0.3 or 6.7`},
		{[]string{"vcenter", "--user", "u=" + secret + ":Admin"}, `did you mean "Administrator"`},
	}
	singleDash := regexp.MustCompile(`(^|[\s:])-[a-z]`)
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tc.args, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
			msg := stderr.String()
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("stderr %q lacks %q", msg, tc.want)
			}
			if singleDash.MatchString(msg) {
				t.Fatalf("stderr %q spells a flag with one dash", msg)
			}
			if strings.Contains(msg, secret) || stdout.Len() != 0 {
				t.Fatalf("secret on stderr or anything on stdout: stdout %q", stdout.String())
			}
		})
	}
}

// TestHelpListsOnlySupportedFlags: help names every role and only flags
// the simulator accepts.
func TestHelpListsOnlySupportedFlags(t *testing.T) {
	tests := []struct {
		sim        string
		roles      []string
		want, hide []string
	}{
		{"vcf", []string{"ADMIN", "OPERATOR", "VIEWER"},
			[]string{"--access-ttl", "--refresh-ttl", "--api-token", "--bad-credentials-status 400|401", "admin@vsphere.local"},
			[]string{"--service-account", "--idle-timeout"}},
		{"vcd", vcd.Roles,
			[]string{"--idle-timeout", "--api-token", "--service-account", "--absolute-timeout", "admin@System", "alice@ExampleOrg"},
			[]string{"--access-ttl", "--refresh-ttl"}},
		{"vcenter", vcenter.Roles,
			[]string{"--idle-timeout", "--absolute-timeout", "--api-version", "--legacy-rest", "administrator@vsphere.local"},
			[]string{"--access-ttl", "--refresh-ttl", "--api-token", "--service-account"}},
	}
	for _, tc := range tests {
		t.Run(tc.sim, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), []string{tc.sim, "--help"}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			help := strings.Join(strings.Fields(stdout.String()), " ")
			for _, w := range append(append([]string{}, tc.want...), tc.roles...) {
				if !strings.Contains(help, w) {
					t.Errorf("help lacks %q", w)
				}
			}
			for _, h := range tc.hide {
				if strings.Contains(help, h) {
					t.Errorf("help names %s, which %s refuses", h, tc.sim)
				}
			}
		})
	}
}

// TestDemoUsers: without credentials flags the simulator makes demo users,
// tells their passwords on stderr only, and they can log in.
func TestDemoUsers(t *testing.T) {
	tests := []struct {
		sim   string
		users []string
		login func(t *testing.T, url, user, pw string) int
	}{
		{"vcf", []string{"admin@vsphere.local"}, vcfLogin},
		{"vcd", []string{"admin@System", "alice@ExampleOrg"}, vcdLogin},
		{"vcenter", []string{"administrator@vsphere.local"}, vcenterLogin},
	}
	for _, tc := range tests {
		t.Run(tc.sim, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var stdout testutil.SyncBuffer
			pr, pw := io.Pipe()
			stderr := &testutil.SyncBuffer{}
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{tc.sim}, io.MultiWriter(pw, &stdout), stderr)
				pw.Close()
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				t.Fatalf("no ready line (stderr %q): %v", stderr.String(), err)
			}
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			var ready sim.Ready
			if err := json.Unmarshal([]byte(line), &ready); err != nil {
				t.Fatal(err)
			}
			passwords := demoPasswords(stderr.String())
			for _, u := range tc.users {
				p, ok := passwords[u]
				if !ok || len(p) < 16 {
					t.Fatalf("stderr does not tell %s's password: %q", u, stderr.String())
				}
				if strings.Contains(stdout.String(), p) {
					t.Fatal("a password went to stdout")
				}
				if code := tc.login(t, ready.URL, u, p); code != 200 && code != 201 {
					t.Fatalf("login %s: %d", u, code)
				}
				if code := tc.login(t, ready.URL, u, p+"x"); code < 400 {
					t.Fatalf("login %s with a wrong password: %d", u, code)
				}
			}
			if len(passwords) != len(tc.users) {
				t.Fatalf("demo users %d, want %d", len(passwords), len(tc.users))
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d", code)
			}
			if got := stdout.String(); got != line {
				t.Fatalf("stdout %q: more than the ready line", got)
			}
		})
	}
}

// demoPasswords reads "  user NAME  password PW  role ROLE" lines.
func demoPasswords(stderr string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(stderr, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == "user" && f[2] == "password" {
			m[f[1]] = f[3]
		}
	}
	return m
}

func vcfLogin(t *testing.T, url, user, pw string) int {
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	resp, err := http.Post(url+"/v1/tokens", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func vcdLogin(t *testing.T, url, user, pw string) int {
	path := "/cloudapi/1.0.0/sessions"
	if strings.HasSuffix(user, "@System") {
		path += "/provider"
	}
	req, err := http.NewRequest(http.MethodPost, url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pw)
	req.Header.Set("Accept", "application/json;version=37.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func vcenterLogin(t *testing.T, url, user, pw string) int {
	req, err := http.NewRequest(http.MethodPost, url+"/api/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
