package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// designExample is the profiles example of DESIGN.md, with the CA path
// pointing at a real file.
const designExample = `profiles:
  sddc:
    provider: vcf
    url: https://sddc-manager.lab.local
    ca_file: $DIR/ca.pem                 # TLS is verified; insecure_skip_verify: true must be explicit and warns
    username: svc-automation@vsphere.local
    password: {env: VCF_PASSWORD}        # or {file: /run/secrets/vcf} (must not be group/world readable)
                                         # or {command: ["pass", "show", "vcf/svc"]}
    refresh_before: 15m                  # optional; default about a third of the lifetime
  vcd-tenant:
    provider: vcd
    url: https://vcd.example.com
    org: ExampleOrg                      # "System" selects the provider login
    username: svc-automation
    password: {env: VCD_PASSWORD}
    api_version: "37.0"                  # optional; default: the highest non-deprecated the server offers
  vcd-token:
    provider: vcd
    url: https://vcd.example.com
    org: ExampleOrg
    api_token: {file: /run/secrets/vcd-api-token}   # service accounts: the file is rewritten on rotation
`

func TestParseDesignExample(t *testing.T) {
	f := newFixture(t)
	cfg, err := f.parse(designExample)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Names(), []string{"sddc", "vcd-tenant", "vcd-token"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	if cfg.Agent.IdleTimeout != 15*time.Minute {
		t.Errorf("default idle timeout %s, want 15m", cfg.Agent.IdleTimeout)
	}
	if cfg.Path != f.path() {
		t.Errorf("Path %q, want %q", cfg.Path, f.path())
	}
	sddc := cfg.Profiles["sddc"]
	checkProfile(t, sddc, Profile{
		Name: "sddc", Line: 2, Provider: "vcf", URL: "https://sddc-manager.lab.local",
		CAFile: filepath.Join(f.dir, "ca.pem"), Timeout: 30 * time.Second,
		Username: "svc-automation@vsphere.local", Password: &secret.Ref{Env: "VCF_PASSWORD"},
		RefreshBefore: 15 * time.Minute,
	})
	checkProfile(t, cfg.Profiles["vcd-tenant"], Profile{
		Name: "vcd-tenant", Line: 10, Provider: "vcd", URL: "https://vcd.example.com", Timeout: 30 * time.Second,
		Org: "ExampleOrg", Username: "svc-automation", Password: &secret.Ref{Env: "VCD_PASSWORD"}, APIVersion: "37.0",
	})
	checkProfile(t, cfg.Profiles["vcd-token"], Profile{
		Name: "vcd-token", Line: 17, Provider: "vcd", URL: "https://vcd.example.com", Timeout: 30 * time.Second,
		Org: "ExampleOrg", APIToken: &secret.Ref{File: "/run/secrets/vcd-api-token"},
	})
}

// checkProfile compares the exported fields of got and want.
func checkProfile(t *testing.T, got *Profile, want Profile) {
	t.Helper()
	if got == nil {
		t.Fatalf("profile %q missing", want.Name)
	}
	g := *got
	g.file, g.pos, g.bad = "", nil, nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("profile %q:\n got %+v\nwant %+v", want.Name, g, want)
	}
}

func TestParseEveryKey(t *testing.T) {
	f := newFixture(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg, err := f.parse(
		"agent:",
		"  idle_timeout: 1h",
		"x-lab: &lab",
		"  url: http://127.0.0.1:8443/",
		"  timeout: 5s",
		"profiles:",
		"  vcf-key:",
		"    <<: *lab",
		"    provider: vcf",
		"    insecure_skip_verify: true",
		"    api_key: {command: [./bin/get-key, --name, svc], timeout: 3s}",
		"  vcd-sa:",
		"    <<: *lab",
		"    timeout: 7s",
		"    provider: vcd",
		"    org: system",
		"    api_version: 38.1",
		"    service_account: {file: ~/sa.token}",
		"    keepalive: 10m",
		"  vcd-legacy:",
		"    provider: vcd",
		"    url: https://[::1]:443",
		"    ca_file: ./ca.pem",
		"    org: O",
		"    username: admin",
		"    password: {file: secret}",
		"    legacy_login: True",
	)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Agent.IdleTimeout != time.Hour {
		t.Errorf("idle timeout %s, want 1h", cfg.Agent.IdleTimeout)
	}
	checkProfile(t, cfg.Profiles["vcf-key"], Profile{
		Name: "vcf-key", Line: 7, Provider: "vcf", URL: "http://127.0.0.1:8443", Timeout: 5 * time.Second,
		InsecureSkipVerify: true,
		APIKey:             &secret.Ref{Command: []string{filepath.Join(f.dir, "bin/get-key"), "--name", "svc"}, Timeout: 3 * time.Second},
	})
	checkProfile(t, cfg.Profiles["vcd-sa"], Profile{
		Name: "vcd-sa", Line: 12, Provider: "vcd", URL: "http://127.0.0.1:8443", Timeout: 7 * time.Second,
		Org: "system", APIVersion: "38.1", ServiceAccount: &secret.Ref{File: filepath.Join(home, "sa.token")},
		Keepalive: 10 * time.Minute,
	})
	checkProfile(t, cfg.Profiles["vcd-legacy"], Profile{
		Name: "vcd-legacy", Line: 20, Provider: "vcd", URL: "https://[::1]:443", Timeout: 30 * time.Second,
		CAFile: filepath.Join(f.dir, "ca.pem"), Org: "O", Username: "admin",
		Password: &secret.Ref{File: filepath.Join(f.dir, "secret")}, LegacyLogin: true,
	})
	// The relative file reference resolves from any working directory.
	t.Chdir(t.TempDir())
	v, err := cfg.Profiles["vcd-legacy"].Password.Resolve(t.Context())
	if err != nil || v.Reveal() != canary {
		t.Fatalf("the file reference does not resolve to the fixture secret: %v", err)
	}
}

func TestParseEmptyAgentKeepsDefaults(t *testing.T) {
	cfg, err := newFixture(t).parse(with(vcf, "    api_key: {env: K}", "agent:")...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Agent.IdleTimeout != DefaultIdleTimeout {
		t.Fatalf("idle timeout %s, want the default", cfg.Agent.IdleTimeout)
	}
}

func TestLoad(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(f.path(), []byte(strings.ReplaceAll(designExample, "$DIR", f.dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(f.path())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Profiles) != 3 || cfg.Path != f.path() {
		t.Fatalf("loaded %d profiles from %q", len(cfg.Profiles), cfg.Path)
	}

	_, err = Load(filepath.Join(f.dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("Load of a missing file: %v, want fs.ErrNotExist naming the file", err)
	}
}

func TestLoadRelativePathsFromConfigDir(t *testing.T) {
	f := newFixture(t)
	sub := filepath.Join(f.dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(sub, "config.yaml")
	y := "profiles:\n  s:\n    provider: vcf\n    url: https://x.example.com\n    ca_file: ../ca.pem\n    api_key: {file: ../secret}\n"
	if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	cfg, err := Load("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Profiles["s"]
	if p.CAFile != filepath.Join(f.dir, "ca.pem") || p.APIKey.File != filepath.Join(f.dir, "secret") {
		t.Fatalf("relative paths not resolved from the config dir: ca_file %q, api_key %q", p.CAFile, p.APIKey.File)
	}
	if cfg.Path != cfgPath {
		t.Fatalf("Path %q, want the absolute %q", cfg.Path, cfgPath)
	}
}

func TestConfigProfile(t *testing.T) {
	cfg := &Config{Path: "/etc/tk.yaml", Profiles: map[string]*Profile{"b": {Name: "b"}, "a": {Name: "a"}}}
	p, err := cfg.Profile("a")
	if err != nil || p.Name != "a" {
		t.Fatalf("Profile(a) = %v, %v", p, err)
	}
	_, err = cfg.Profile("c")
	if !errors.Is(err, ErrUnknownProfile) {
		t.Fatalf("Profile(c): %v, want ErrUnknownProfile", err)
	}
	if want := `unknown profile "c" in /etc/tk.yaml; known profiles: a, b`; err.Error() != want {
		t.Fatalf("Profile(c) error %q, want %q", err, want)
	}
	_, err = (&Config{}).Profile("c")
	if !errors.Is(err, ErrUnknownProfile) || !strings.Contains(err.Error(), "no profiles are defined") {
		t.Fatalf("Profile on an empty config: %v", err)
	}
}
