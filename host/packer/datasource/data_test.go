// SPDX-License-Identifier: Apache-2.0

package datasource

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// decodeBlock turns HCL attributes into the cty object Packer core hands to
// Configure, through the data source's own generated spec.
func decodeBlock(t *testing.T, src string) cty.Value {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "test.pkr.hcl")
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	v, diags := hcldec.Decode(f.Body, (&Datasource{}).ConfigSpec(), nil)
	if diags.HasErrors() {
		t.Fatalf("decode: %s", diags)
	}
	return v
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name        string
		src         string
		wantErr     []string // substrings, all required; none means success
		wantMin     time.Duration
		wantHelper  string
		wantProfile string
		wantConfig  string
	}{
		{name: "profile only", src: `profile = "sddc"`, wantHelper: "tokenkeeper", wantProfile: "sddc"},
		{
			name: "all fields",
			src: `profile = "vcd-tenant"
min_validity = "1h30m"
config = "/etc/tokenkeeper/config.yaml"
helper_path = "/opt/bin/tokenkeeper"`,
			wantMin: 90 * time.Minute, wantHelper: "/opt/bin/tokenkeeper",
			wantProfile: "vcd-tenant", wantConfig: "/etc/tokenkeeper/config.yaml",
		},
		{name: "zero min_validity", src: `profile = "sddc"
min_validity = "0s"`, wantHelper: "tokenkeeper", wantProfile: "sddc"},
		{name: "missing profile", src: ``, wantErr: []string{`"profile" is required`, `profile = "sddc"`}},
		{name: "empty profile", src: `profile = ""`, wantErr: []string{`"profile" is required`}},
		{name: "bad duration", src: `profile = "sddc"
min_validity = "ten minutes"`, wantErr: []string{`"min_validity" "ten minutes" is not a duration`}},
		{name: "negative duration", src: `profile = "sddc"
min_validity = "-5m"`, wantErr: []string{`must not be negative`}},
		{name: "both errors at once", src: `min_validity = "x"`, wantErr: []string{`"profile" is required`, `"min_validity" "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Datasource
			err := d.Configure(decodeBlock(t, tt.src))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Configure: want error containing %q, got nil", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Configure error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			if d.config.Profile != tt.wantProfile || d.config.HelperPath != tt.wantHelper ||
				d.config.ConfigPath != tt.wantConfig || d.minValidity != tt.wantMin {
				t.Errorf("got profile=%q helper=%q config=%q min=%v, want %q %q %q %v",
					d.config.Profile, d.config.HelperPath, d.config.ConfigPath, d.minValidity,
					tt.wantProfile, tt.wantHelper, tt.wantConfig, tt.wantMin)
			}
		})
	}
}

// Packer decodes a second Configure on the same value (validate, then
// build); stale state from the first must not leak into the second.
func TestConfigureResetsState(t *testing.T) {
	var d Datasource
	if err := d.Configure(decodeBlock(t, `profile = "a"
min_validity = "10m"`)); err != nil {
		t.Fatal(err)
	}
	if err := d.Configure(decodeBlock(t, `profile = "b"`)); err != nil {
		t.Fatal(err)
	}
	if d.minValidity != 0 || d.config.Profile != "b" {
		t.Errorf("after reconfigure: min=%v profile=%q, want 0 and b", d.minValidity, d.config.Profile)
	}
}

func TestSpecs(t *testing.T) {
	var d Datasource
	if got, want := specKeys(d.ConfigSpec()), "allow_shorter config helper_path min_validity profile"; got != want {
		t.Errorf("ConfigSpec keys = %q, want %q", got, want)
	}
	if got, want := specKeys(d.OutputSpec()), "expires_at fingerprint header_name header_value shorter_than_requested token"; got != want {
		t.Errorf("OutputSpec keys = %q, want %q", got, want)
	}
}

func specKeys(s hcldec.ObjectSpec) string {
	var keys []string
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// fakeClient is a hand-written tokenClient recording its calls.
type fakeClient struct {
	tok    *host.Token
	err    error
	closed int

	gotProfile string
	gotOpts    host.TokenOptions
}

func (f *fakeClient) Token(_ context.Context, profile string, o host.TokenOptions) (*host.Token, error) {
	f.gotProfile, f.gotOpts = profile, o
	return f.tok, f.err
}

func (f *fakeClient) Close() error { f.closed++; return nil }

// fakeConnector is a connector whose agent is agent (nil: none runs) and
// whose launches of child are recorded. The agent listens on
// "sock:"+configPath; a dial elsewhere finds nothing.
func fakeConnector(agent, child tokenClient, launched *[]host.LaunchOptions) connector {
	return connector{
		socketPath: func(configPath string) (string, error) { return "sock:" + configPath, nil },
		dial: func(_ context.Context, socket string) (tokenClient, error) {
			if agent == nil || !strings.HasPrefix(socket, "sock:") {
				return nil, errors.New("connect: no such file or directory")
			}
			return agent, nil
		},
		launch: func(_ context.Context, o host.LaunchOptions) (tokenClient, error) {
			*launched = append(*launched, o)
			return child, nil
		},
		lookPath: func(file string) (string, error) { return "/usr/local/bin/" + file, nil },
	}
}

func TestExecuteMapsToken(t *testing.T) {
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	expires := time.Date(2026, 11, 22, 11, 40, 0, 0, time.FixedZone("CET", 3600))
	fc := &fakeClient{tok: &host.Token{
		Profile: "sddc", Provider: "vcf", TokenType: "Bearer", HeaderName: "Authorization",
		Access: secret.New(jwt), HeaderValue: secret.New("Bearer " + jwt),
		ExpiresAt: expires, Fingerprint: "sha256:1f2e3d4c5b6a7988",
	}}
	var launched []host.LaunchOptions
	d := Datasource{log: hclog.NewNullLogger(), conn: fakeConnector(fc, nil, &launched)}
	if err := d.Configure(decodeBlock(t, `profile = "sddc"
min_validity = "45m"`)); err != nil {
		t.Fatal(err)
	}
	v, err := d.Execute()
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	want := map[string]string{
		"token":        jwt,
		"header_name":  "Authorization",
		"header_value": "Bearer " + jwt,
		"expires_at":   "2026-11-22T10:40:00Z",
		"fingerprint":  "sha256:1f2e3d4c5b6a7988",
	}
	for k, w := range want {
		if got := v.GetAttr(k); got.Type() != cty.String || got.AsString() != w {
			// Never print the value: it is (fake) token material.
			t.Errorf("output %s is wrong (type %s)", k, got.Type().FriendlyName())
		}
	}
	if fc.gotProfile != "sddc" || fc.gotOpts.MinValidity != 45*time.Minute || fc.gotOpts.ForceRefresh {
		t.Errorf("Token called with profile=%q opts=%+v, want sddc and MinValidity 45m", fc.gotProfile, fc.gotOpts)
	}
	if fc.closed != 1 {
		t.Errorf("client closed %d times, want 1", fc.closed)
	}
	if len(launched) != 0 {
		t.Errorf("launched %d helpers while an agent answered", len(launched))
	}
}

// allow_shorter reaches the token call, and a token served under it says
// so in shorter_than_requested; without it the output says false.
func TestExecuteAllowShorter(t *testing.T) {
	for _, allow := range []bool{false, true} {
		fc := &fakeClient{tok: &host.Token{
			Profile: "sddc", Provider: "vcf", TokenType: "Bearer", HeaderName: "Authorization",
			Access: secret.New("tok"), HeaderValue: secret.New("Bearer tok"), ExpiresAt: time.Now().Add(time.Minute),
			Fingerprint: "sha256:1f2e3d4c5b6a7988", ShorterThanRequested: allow,
		}}
		var launched []host.LaunchOptions
		d := Datasource{log: hclog.NewNullLogger(), conn: fakeConnector(fc, nil, &launched)}
		block := fmt.Sprintf("profile = \"sddc\"\nmin_validity = \"45m\"\nallow_shorter = %v", allow)
		if err := d.Configure(decodeBlock(t, block)); err != nil {
			t.Fatal(err)
		}
		v, err := d.Execute()
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		if fc.gotOpts.AllowShorter != allow {
			t.Errorf("allow_shorter = %v: Token called with %+v", allow, fc.gotOpts)
		}
		if got := v.GetAttr("shorter_than_requested"); got.Type() != cty.Bool || got.True() != allow {
			t.Errorf("allow_shorter = %v: shorter_than_requested is %#v", allow, got)
		}
	}
}

func TestExecuteCarriesHelperError(t *testing.T) {
	// The shape of a *host.Error: operation, profile, code, helper message.
	fc := &fakeClient{err: fmt.Errorf(`get token: profile "nope": NotFound: unknown profile "nope" (known: sddc): %w`, host.ErrNotFound)}
	var launched []host.LaunchOptions
	d := Datasource{log: hclog.NewNullLogger(), conn: fakeConnector(nil, fc, &launched)}
	if err := d.Configure(decodeBlock(t, `profile = "nope"`)); err != nil {
		t.Fatal(err)
	}
	v, err := d.Execute()
	if err == nil {
		t.Fatal("Execute: want an error, got nil")
	}
	if !v.IsNull() {
		t.Error("Execute returned a value along with the error")
	}
	for _, w := range []string{`tokenkeeper: get token: profile "nope"`, `unknown profile "nope" (known: sddc)`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if !errors.Is(err, host.ErrNotFound) {
		t.Errorf("error %q does not wrap host.ErrNotFound", err)
	}
	if fc.closed != 1 {
		t.Errorf("client closed %d times after a failure, want 1", fc.closed)
	}
}

// A launched child logs a Cloud Director or vCenter session out when it
// exits, right after Execute: such a token must not reach the template.
// Through the agent the session lives on.
func TestExecuteSessionNeedsAgent(t *testing.T) {
	sessions := []struct{ provider, header, product string }{
		{"vcd", "Authorization", "Cloud Director"},
		{"vcenter", "vmware-api-session-id", "vCenter"},
	}
	for _, s := range sessions {
		for _, agentUp := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s agent %v", s.provider, agentUp), func(t *testing.T) {
				fc := &fakeClient{tok: &host.Token{Profile: s.provider, Provider: s.provider, HeaderName: s.header,
					Access: secret.New("x.y"), HeaderValue: secret.New("x.y"),
					ExpiresAt: time.Now().Add(time.Hour), Fingerprint: "sha256:00"}}
				var agent tokenClient
				if agentUp {
					agent = fc
				}
				var launched []host.LaunchOptions
				d := Datasource{log: hclog.NewNullLogger(), conn: fakeConnector(agent, fc, &launched)}
				if err := d.Configure(decodeBlock(t, `profile = "`+s.provider+`"`)); err != nil {
					t.Fatal(err)
				}
				out, err := d.Execute()
				want := fmt.Sprintf("profile %q is a %s profile", s.provider, s.product)
				switch {
				case agentUp && err != nil:
					t.Fatalf("Execute: %v", err)
				case agentUp && out.GetAttr("header_name").AsString() != s.header:
					t.Fatalf("header_name %s", out.GetAttr("header_name").GoString())
				case !agentUp && (err == nil || !strings.Contains(err.Error(), want)):
					t.Fatalf("Execute error = %v, want it to contain %q", err, want)
				}
				if fc.closed != 1 {
					t.Errorf("client closed %d times, want 1", fc.closed)
				}
			})
		}
	}
}

// The agent retired at this call (its profiles file changed) and no other
// took over (host.Dial's error matches host.ErrNoAgent): the data source
// launches the helper, as when no agent runs, instead of failing the build.
func TestExecuteLaunchesHelperWhenAgentRetires(t *testing.T) {
	retiring := &fakeClient{err: fmt.Errorf("get token: Unavailable: this agent is exiting: %w; no agent took over: %w",
		host.ErrUnavailable, host.ErrNoAgent)}
	child := &fakeClient{tok: &host.Token{Profile: "sddc", Provider: "vcf", HeaderName: "Authorization",
		Access: secret.New("t"), HeaderValue: secret.New("Bearer t"), ExpiresAt: time.Now().Add(time.Hour)}}
	var launched []host.LaunchOptions
	d := Datasource{log: hclog.NewNullLogger(), conn: fakeConnector(retiring, child, &launched)}
	if err := d.Configure(decodeBlock(t, `profile = "sddc"`)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Execute(); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if len(launched) != 1 || retiring.closed != 1 || child.closed != 1 {
		t.Errorf("launched %d helpers, closed agent client %d and child %d times; want 1, 1, 1",
			len(launched), retiring.closed, child.closed)
	}
}
