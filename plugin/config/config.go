package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/role"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Defaults applied by Parse when a key is absent.
const (
	DefaultIdleTimeout = 15 * time.Minute // agent.idle_timeout
	DefaultTimeout     = 30 * time.Second // profiles.*.timeout
)

// Lower bounds of the duration keys: below them a setting is a mistake
// that hurts (1ns keepalive probes Cloud Director thousands of times a
// second, 1ns timeouts fail every call), never a tuning.
const (
	MinTimeout        = time.Second            // profiles.*.timeout
	MinKeepalive      = 10 * time.Second       // profiles.*.keepalive, unless 0 (off)
	MinCommandTimeout = 100 * time.Millisecond // {command: …, timeout: …}
	MinIdleTimeout    = 10 * time.Second       // agent.idle_timeout
)

// MaxFileSize caps the profiles file. It holds references, never data, so
// a bigger file is a mistake (a log or an archive under the wrong name),
// and it is read on every call that needs it.
const MaxFileSize = 1 << 20 // 1 MiB, as tooLarge says

// Provider names accepted in profiles.*.provider.
const (
	ProviderVCF     = "vcf"
	ProviderVCD     = "vcd"
	ProviderVCenter = "vcenter"
	// ProviderVault reads the tokens of tokenkeeper's Vault engine
	// (docs/fleet.md): url (or the vault block's address), mount, name.
	ProviderVault = "vault"
)

// ErrUnknownProfile is wrapped by Config.Profile for a name the file does
// not define.
var ErrUnknownProfile = errors.New("unknown profile")

// Config is a parsed and validated profiles file.
type Config struct {
	// Path is the absolute path of the file, empty when parsed from memory
	// without a name.
	Path string
	// Agent configures the background agent.
	Agent Agent
	// Profiles maps profile names to their settings.
	Profiles map[string]*Profile
	// Proxies are the auth proxies the agent serves, in file order.
	Proxies []Proxy
	// Vault is the top-level `vault` block, nil when the file has none
	// (the standard Vault environment then says everything).
	Vault *Vault
	// VaultConns holds the connections of {vault: …} references that set
	// connection keys of their own, by secret.VaultRef.Conn; see
	// VaultConn.
	VaultConns map[string]*Vault
}

// Agent configures the background agent (YAML key `agent`).
type Agent struct {
	// IdleTimeout is how long the agent lives without requests before it
	// revokes what it holds and exits (`idle_timeout`, default 15m).
	IdleTimeout time.Duration
}

// Profile is one upstream account (YAML `profiles.<name>`). Keys are the
// snake_case of the field names.
type Profile struct {
	// Name is the key of the profile in the file.
	Name string
	// Line is where the profile starts in the file (0 if built in code).
	Line int
	// Provider is "vcf" (SDDC Manager), "vcd" (Cloud Director),
	// "vcenter" (vSphere Automation API) or "vault" (tokenkeeper's Vault
	// engine).
	Provider string
	// URL is the base URL of the upstream, without a trailing slash:
	// https, or http for 127.0.0.1, ::1 and localhost only. For provider
	// vault it is Vault's address (optional: the vault block's address,
	// else VAULT_ADDR).
	URL string
	// CAFile is a PEM bundle to verify the upstream's TLS certificate
	// with, instead of the system roots (vault: Vault's, over the vault
	// block's ca_cert).
	CAFile string
	// InsecureSkipVerify turns off TLS verification; Config.Warnings and
	// the provider warn about it.
	InsecureSkipVerify bool
	// Timeout bounds each upstream request (default 30s).
	Timeout time.Duration
	// Username logs in with Password (vcf, vcd, vcenter).
	Username string
	// Password is the password reference (vcf, vcd, vcenter).
	Password *secret.Ref
	// APIKey is a VCF service user's API key, used instead of
	// username/password.
	APIKey *secret.Ref
	// RefreshBefore is how long before expiry the token is refreshed; zero
	// means the keeper's default (about a third of the lifetime).
	RefreshBefore time.Duration
	// Org is the Cloud Director organization; "System" (any case) selects
	// the provider login (vcd).
	Org string
	// APIVersion pins the Cloud Director API version, e.g. "37.0" (vcd,
	// optional; default the highest non-deprecated the server offers).
	APIVersion string
	// APIToken is a Cloud Director user API token (vcd; not rotated).
	APIToken *secret.Ref
	// ServiceAccount is a Cloud Director service-account refresh token
	// (vcd). It rotates on every use, so it must be a file reference the
	// process can rewrite.
	ServiceAccount *secret.Ref
	// LegacyLogin forces the legacy POST /api/sessions login (vcd).
	LegacyLogin bool
	// Keepalive, when non-zero, touches an idle Cloud Director or
	// vCenter session at this period so it does not idle out (vcd,
	// vcenter).
	Keepalive time.Duration
	// IdleTimeout is the Cloud Director session idle timeout when the
	// server does not report it, or a shorter one (a proxy in front):
	// the shorter of this and the server's applies (vcd; 0: not set).
	// vCenter never reports it: there it is the server's setting, and 0
	// means vCenter's default of 30 minutes (vcenter).
	IdleTimeout time.Duration
	// MaxRole are the role names of max_role as written: one role (vcf:
	// VIEWER, OPERATOR or ADMIN; vcd: a predefined role, which allows the
	// ones below it too) or, for vcd, a list of the roles allowed. Empty:
	// no limit. See role.Parse and docs/least-privilege.md.
	MaxRole []string
	// RoleLimit is MaxRole as Validate parsed it (zero: no limit).
	RoleLimit role.Limit
	// Mount is where tokenkeeper's Vault engine is mounted (vault).
	Mount string
	// EngineProfile is the engine's profile whose tokens this one reads
	// (`name`; vault).
	EngineProfile string

	// file is the name errors are reported against.
	file string
	// pos is where each key was written, for error messages.
	pos map[string]position
	// bad marks keys whose value was rejected while parsing, so Validate
	// does not report them again as missing.
	bad map[string]bool
}

type position struct{ line, col int }

// Error is one problem in the profiles file. Parse and Load return all of
// them at once, joined with errors.Join; use errors.As to get the first.
type Error struct {
	// File is the file name as given to Load or Parse.
	File string
	// Line and Column locate the problem (1-based; 0 when unknown).
	Line, Column int
	// Profile and Field name where the problem is, when it is in one.
	Profile, Field string
	// Msg says what is wrong and how to fix it. It never contains a
	// secret value.
	Msg string
	// Err is the underlying cause, if any (for errors.Is).
	Err error
}

// Error formats as `config.yaml:12:5: profile "sddc": field "password": msg`.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "":
		b.WriteString(e.File)
	case e.Line > 0:
		b.WriteString("line ")
	}
	if e.Line > 0 {
		if e.File != "" {
			b.WriteString(":")
		}
		fmt.Fprintf(&b, "%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Profile != "" {
		fmt.Fprintf(&b, "profile %q: ", e.Profile)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Load reads, parses and validates the profiles file at path. Relative
// paths in it (file references, ca_file) are relative to its directory.
//
// The file decides which programs run (command references), where
// credentials are sent (url) and which CA is trusted (ca_file), so, as
// ssh's StrictModes, Load refuses it when someone other than the current
// user or root could change it: when it is writable by group or others,
// owned by another user, or in a directory (or below one) that another
// user owns or that group or others may write without the sticky bit.
// Such errors wrap secret.ErrInsecurePermissions and say what to run.
func Load(path string) (*Config, error) {
	data, err := readTrusted(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// readTrusted reads path after checking, on the opened descriptor, that
// only the current user or root can change it.
func readTrusted(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("could not read config: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("could not read config: %w", err)
	}
	if err := secret.CheckTrustedFile(path, fi); err != nil {
		return nil, untrusted(path, err)
	}
	if err := secret.CheckTrustedDirs(path); err != nil {
		return nil, untrusted(path, err)
	}
	if fi.Size() > MaxFileSize {
		return nil, tooLarge(path)
	}
	// The size may grow between the stat and the read, or not be known
	// (a pipe given as --config): read at most one byte past the cap.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("could not read config: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path)
	}
	return data, nil
}

// ErrTooLarge is wrapped by the error of a profiles file larger than
// MaxFileSize.
var ErrTooLarge = errors.New("profiles file too large")

func tooLarge(path string) *Error {
	return &Error{File: path, Msg: "the profiles file is larger than 1 MiB: it holds settings and " +
		"references to secrets, never data; check that --config or $TOKENKEEPER_CONFIG names the right file",
		Err: ErrTooLarge}
}

func untrusted(path string, err error) *Error {
	return &Error{File: path, Msg: "refusing a profiles file that others could change " +
		"(it decides which programs run, where credentials are sent and which CA is trusted)", Err: err}
}

// Names returns the profile names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
