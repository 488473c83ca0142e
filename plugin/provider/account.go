package provider

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Principal kinds: what names the party a login speaks for.
const (
	// KindUser: a user name with a password; Principal is the name as
	// the server compares it.
	KindUser = "user"
	// KindAPIKey, KindAPIToken: the credential itself names the
	// principal; a store keys it by a keyed fingerprint of Material.
	KindAPIKey   = "api-key"
	KindAPIToken = "api-token"
	// KindServiceAccount: a Cloud Director service account, named by its
	// token file (the token rotates, the file stays); keyed like a token.
	KindServiceAccount = "service-account"
)

// Account is the upstream account a login spends the lockout budget of:
// the provider, the server's normalised origin and the principal. Two
// profiles that log in as one account share one budget, whatever their
// names and files; two accounts never share one.
type Account struct {
	Provider string // "vcf", "vcd"
	Origin   string // scheme://host:port, see Origin
	Kind     string // one of the Kind constants
	// Principal is the user name as the server compares it (lower case
	// for SSO and Cloud Director); empty for keyed kinds.
	Principal string
	// Material identifies a keyed principal (an API key's credential id,
	// a service-account file path). It never leaves the process: stores
	// keep only a keyed fingerprint of it. Zero for KindUser, and zero
	// until the keeper fills in the credential for API keys and tokens.
	Material secret.Secret
}

// IsZero reports whether a names no account.
func (a Account) IsZero() bool {
	return a.Provider == "" && a.Origin == "" && a.Kind == "" && a.Principal == ""
}

// Keyed reports whether the principal is named by Material rather than by
// a user name.
func (a Account) Keyed() bool { return a.Kind != KindUser }

// ID is the account's stable name for stores and maps: provider, origin,
// kind and principal, with the principal of a keyed kind replaced by fp
// (a keyed fingerprint of Material the caller computes). It never holds a
// secret.
func (a Account) ID(fp string) string {
	p := a.Principal
	if a.Keyed() {
		p = fp
	}
	return a.Provider + " " + a.Origin + " " + a.Kind + ":" + p
}

// Origin normalises a profile URL to the origin that names the server:
// scheme and host lower-cased, trailing dot dropped, the default port
// made explicit, IP literals in canonical form, and every loopback name
// or address (localhost, *.localhost, 127.0.0.0/8, ::1) written as
// localhost. The path is not part of it. Other aliases of one server (an
// address and its DNS name, a CNAME) stay distinct: resolving them would
// tie the budget to DNS answers that change.
func Origin(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("url is not an absolute URL (%w)", ErrBadConfig)
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		default:
			return "", fmt.Errorf("url scheme %q is not http or https (%w)", u.Scheme, ErrBadConfig)
		}
	}
	return scheme + "://" + net.JoinHostPort(canonicalHost(u.Hostname()), port), nil
}

func canonicalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if ip := net.ParseIP(h); ip != nil {
		if ip.IsLoopback() {
			return "localhost"
		}
		return ip.String()
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return "localhost"
	}
	return h
}

// String describes the account for people: principal and origin, never
// Material.
func (a Account) String() string {
	p := a.Principal
	if a.Keyed() {
		p = strings.ReplaceAll(a.Kind, "-", " ")
	}
	return p + " at " + a.Origin
}
