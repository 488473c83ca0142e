package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/role"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

func (p *Profile) validate() []*Error {
	v := &validator{p: p}
	v.common()
	switch p.Provider {
	case ProviderVCF:
		v.vcf()
		v.maxRole()
	case ProviderVCD:
		v.vcd()
		v.maxRole()
	case ProviderVCenter:
		v.vcenter()
		v.maxRole()
	case ProviderVault:
		v.vault()
	case "":
		if !v.has("provider") {
			v.missing("provider", "is required: vcf (SDDC Manager), vcd (Cloud Director), vcenter (vCenter) or vault (tokenkeeper's Vault engine)")
		}
	default:
		// The value is not echoed: nothing here may repeat what could be a
		// secret pasted into the wrong line.
		v.at("provider", "unknown provider (value not shown); valid providers: vault, vcd, vcenter, vcf")
	}
	return v.errs
}

// validator collects the problems of one profile.
type validator struct {
	p    *Profile
	errs []*Error
}

// at reports a problem with field, located where the field was written.
func (v *validator) at(field, format string, args ...any) { v.atErr(field, nil, format, args...) }

// atErr is at with an underlying cause.
func (v *validator) atErr(field string, err error, format string, args ...any) {
	pos, ok := v.p.pos[field]
	if !ok {
		pos = position{line: v.p.Line}
	}
	v.errs = append(v.errs, &Error{
		File: v.p.file, Line: pos.line, Column: pos.col,
		Profile: v.p.Name, Field: field, Msg: fmt.Sprintf(format, args...), Err: err,
	})
}

// missing reports an absent field, located at the profile.
func (v *validator) missing(field, msg string) {
	v.errs = append(v.errs, &Error{File: v.p.file, Line: v.p.Line, Profile: v.p.Name, Field: field, Msg: msg})
}

// has reports whether field was given, even with a rejected value (which
// was reported already and must not also count as missing).
func (v *validator) has(field string) bool { return v.p.isSet(field) || v.p.bad[field] }

func (p *Profile) isSet(field string) bool {
	switch field {
	case "provider":
		return p.Provider != ""
	case "url":
		return p.URL != ""
	case "username":
		return p.Username != ""
	case "password":
		return p.Password != nil
	case "api_key":
		return p.APIKey != nil
	case "org":
		return p.Org != ""
	case "api_version":
		return p.APIVersion != ""
	case "api_token":
		return p.APIToken != nil
	case "service_account":
		return p.ServiceAccount != nil
	case "legacy_login":
		return p.LegacyLogin
	case "keepalive":
		return p.Keepalive != 0
	case "idle_timeout":
		return p.IdleTimeout != 0
	case "max_role":
		return len(p.MaxRole) > 0
	case "mount":
		return p.Mount != ""
	case "name":
		return p.EngineProfile != ""
	case "insecure_skip_verify":
		return p.InsecureSkipVerify
	}
	return false
}

func (v *validator) common() {
	p := v.p
	switch {
	case p.URL != "":
		if msg := checkURL(p.URL); msg != "" {
			v.at("url", "%s", msg)
		}
	case !v.has("url") && p.Provider != ProviderVault: // vault: the vault block's address
		v.missing("url", "is required, e.g. https://sddc-manager.example.com")
	}
	if p.CAFile != "" {
		v.caFile()
	}
	for _, d := range []struct {
		field string
		d     time.Duration
		b     bounds
	}{
		{"timeout", p.Timeout, bounds{min: MinTimeout}}, // zero, from code: the HTTP client's default
		{"refresh_before", p.RefreshBefore, bounds{zeroOK: true}},
		{"keepalive", p.Keepalive, bounds{min: MinKeepalive, zeroOK: true}},
	} {
		switch {
		case d.d < 0:
			v.at(d.field, "must not be negative")
		case d.d != 0 && d.d < d.b.min:
			v.at(d.field, "%s", d.b.tooShort())
		}
	}
	for _, r := range p.refs() {
		if r.ref != nil {
			if err := r.ref.Validate(); err != nil {
				v.atErr(r.field, err, "invalid reference")
			}
		}
	}
}

// checkURL returns what is wrong with u, or "". The URL itself is never
// echoed: it may carry credentials.
func checkURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "is not a valid URL"
	case u.User != nil:
		return "must not contain a user name or password: use the username and password fields"
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "http is allowed only for 127.0.0.1, ::1 and localhost (a local simulator or tunnel); use https"
	case u.Scheme != "https" && u.Scheme != "http":
		return "must start with https://"
	case u.Host == "":
		return "has no host, e.g. https://sddc-manager.example.com"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	}
	return ""
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || strings.EqualFold(host, "localhost")
}

func (v *validator) caFile() {
	p := v.p
	if p.InsecureSkipVerify {
		v.at("insecure_skip_verify", "contradicts ca_file: with a CA file the certificate can be verified, remove insecure_skip_verify")
	}
	pem, err := readCAFile(p.CAFile)
	if errors.Is(err, secret.ErrInsecurePermissions) {
		v.atErr("ca_file", err, "refusing a CA bundle that others could change (they could make a server of theirs trusted)")
		return
	}
	if err != nil {
		v.atErr("ca_file", err, "could not read the CA bundle")
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		v.at("ca_file", "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", p.CAFile)
	}
}

// readCAFile reads a CA bundle that only the current user or root can
// change, checked on the opened descriptor.
func readCAFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := secret.CheckTrustedFile(path, fi); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

func (v *validator) notFor(provider string, fields ...string) {
	for _, f := range fields {
		if v.p.isSet(f) {
			v.at(f, "is not used by provider %s", provider)
		}
	}
}

func (v *validator) vcf() {
	v.notFor(ProviderVCF, "org", "api_version", "api_token", "service_account", "legacy_login", "keepalive", "idle_timeout", "mount", "name")
	userPass := v.has("username") || v.has("password")
	switch {
	case v.has("api_key") && userPass:
		v.at("api_key", "use either api_key or username and password, not both")
	case v.has("api_key"):
	case !userPass:
		v.missing("password", "provider vcf needs username and password ({env: NAME}, {file: PATH} or {command: […]}), or api_key")
	case !v.has("username"):
		v.missing("username", "is required with password")
	case !v.has("password"):
		v.missing("password", "is required with username: "+refHelp)
	}
}

var apiVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

func (v *validator) vcd() {
	p := v.p
	v.notFor(ProviderVCD, "api_key", "mount", "name")
	if !v.has("org") {
		v.missing("org", `is required: the organization to log in to, or "System" for the provider`)
	}
	if p.APIVersion != "" && !apiVersion.MatchString(p.APIVersion) {
		v.at("api_version", `must look like "37.0" (quote it in YAML)`)
	}
	var creds []string
	for _, f := range []string{"password", "api_token", "service_account"} {
		if v.has(f) {
			creds = append(creds, f)
		}
	}
	switch {
	case len(creds) == 0:
		v.missing("password", "provider vcd needs one of password (with username), api_token or service_account")
	case len(creds) > 1:
		v.at(creds[1], "use only one of %s", strings.Join(creds, ", "))
	case creds[0] == "password":
		if !v.has("username") {
			v.missing("username", "is required with password")
		}
	default:
		if v.has("username") {
			v.at("username", "is not used with %s: the token identifies the user", creds[0])
		}
		if p.LegacyLogin {
			v.at("legacy_login", "works only with username and password, not %s", creds[0])
		}
	}
	if p.ServiceAccount != nil {
		v.serviceAccount()
	}
	v.idleTimeout()
}

// vcenter checks a vCenter profile: a user name and password, and the
// session idle timeout when set.
func (v *validator) vcenter() {
	v.notFor(ProviderVCenter, "org", "api_version", "api_key", "api_token", "service_account", "legacy_login", "mount", "name")
	switch {
	case !v.has("username") && !v.has("password"):
		v.missing("password", "provider vcenter needs username and password ({env: NAME}, {file: PATH} or {command: […]})")
	case !v.has("username"):
		v.missing("username", "is required with password")
	case !v.has("password"):
		v.missing("password", "is required with username: "+refHelp)
	}
	v.idleTimeout()
}

// vault checks a profile reading tokenkeeper's Vault engine: where the
// engine is mounted and which of its profiles; the login secrets are the
// engine's, and Vault's own auth is the vault block's.
func (v *validator) vault() {
	v.notFor(ProviderVault, "username", "password", "api_key", "org", "api_version", "api_token",
		"service_account", "legacy_login", "keepalive", "idle_timeout", "max_role", "insecure_skip_verify")
	if !v.has("mount") {
		v.missing("mount", "is required: where the engine is mounted, e.g. mount: tokenkeeper")
	}
	if !v.has("name") {
		v.missing("name", "is required: the engine's profile to read tokens of (token/<name>), e.g. name: sddc")
	}
}

// Bounds of a profile's idle_timeout: Cloud Director and vCenter
// configure whole minutes or seconds, so below a second is a unit mistake
// (the parser refuses it); above a day the absolute session cap ends the
// session first.
const (
	minIdleTimeout = time.Second
	maxIdleTimeout = 24 * time.Hour
)

// idleTimeout checks the session idle timeout a vcd profile sets.
func (v *validator) idleTimeout() {
	if v.p.IdleTimeout > maxIdleTimeout {
		v.at("idle_timeout", "must be at most %s (the server's setting, e.g. 30m)", maxIdleTimeout)
	}
}

// serviceAccount checks the refresh token can be written back: it rotates
// on every exchange, and a token that cannot be saved is lost.
func (v *validator) serviceAccount() {
	r := v.p.ServiceAccount
	if r.File == "" {
		v.at("service_account", "must be a file reference ({file: PATH}): the token rotates on every use and is written back")
		return
	}
	if err := r.CheckWritable(); err != nil {
		v.atErr("service_account", err, "cannot be written back when the token rotates")
	}
}

// maxRole parses max_role for the profile's provider.
func (v *validator) maxRole() {
	if len(v.p.MaxRole) == 0 {
		return
	}
	if v.p.Provider == ProviderVCenter {
		v.at("max_role", "is not supported for provider vcenter: its session info names the user, not the session's roles, so the limit could not be checked")
		return
	}
	l, err := role.Parse(v.p.Provider, v.p.MaxRole)
	if err != nil {
		v.at("max_role", "%v", err)
		return
	}
	v.p.RoleLimit = l
}
