// Package vcd speaks VMware Cloud Director's authentication wire: version
// discovery, CloudAPI and legacy session logins with user, org and
// password, API-token and service-account exchanges, session probes and
// logout. It implements the keeper's Provider and Prober interfaces
// without importing the keeper.
package vcd

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Config describes one Cloud Director profile. Exactly one of Password
// (with Username), APIToken or ServiceAccount is set.
type Config struct {
	// URL is the base URL, e.g. https://vcd.example.com.
	URL string
	// HTTPClient carries TLS settings and timeouts; nil means a default
	// client (tests only: production wiring passes provider.NewHTTPClient).
	HTTPClient *http.Client
	// Org is the organization; "System" (any case) selects the provider
	// endpoints.
	Org string
	// Username is the user name without "@org".
	Username string
	// Password is the user's password.
	Password provider.Resolver
	// APIToken is a user API token (never rotated).
	APIToken provider.Resolver
	// ServiceAccount is a service account's refresh token, rotated on
	// every exchange and stored back before a grant is returned
	// (FileServiceAccount).
	ServiceAccount RotatingSecret
	// APIVersion pins the API version; empty selects the highest
	// non-deprecated version the server offers.
	APIVersion string
	// LegacyLogin forces POST /api/sessions and the x-vcloud-authorization
	// header.
	LegacyLogin bool
	// IdleTimeout is the session idle timeout to assume when the server
	// does not report one, or a shorter one (a proxy in front); the
	// shorter of this and the server's applies. Zero: the server's alone.
	IdleTimeout time.Duration
	// Logger receives debug and trace lines without secrets; nil discards.
	Logger hclog.Logger
}

// Provider is a Cloud Director upstream for one profile. It is safe for
// concurrent use.
type Provider struct {
	cfg    Config
	base   provider.BaseURL
	client *http.Client
	log    hclog.Logger

	// mu guards versionCache and pendingSA.
	mu sync.Mutex
	// versionCache is the server's version list, fetched once.
	versionCache []versionInfo
	// pendingSA is a rotated service-account token the server already
	// issued but that could not be stored; the next Login stores it first.
	pendingSA Held
}

// Grant Meta keys and values.
const (
	metaMode    = "mode"
	metaVersion = "version"
	modeCloud   = "cloudapi"
	modeLegacy  = "legacy"
)

// systemOrg is the provider organization.
const systemOrg = "System"

// New validates cfg and returns a provider.
func New(cfg Config) (*Provider, error) {
	base, err := provider.ParseBaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("vcd: %w", err)
	}
	if cfg.Org == "" {
		return nil, fmt.Errorf("vcd: org is required (use %q for the provider): %w", systemOrg, provider.ErrBadConfig)
	}
	n := 0
	for _, set := range []bool{cfg.Password != nil, cfg.APIToken != nil, cfg.ServiceAccount != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("vcd: exactly one of password, api_token, service_account is required: %w", provider.ErrBadConfig)
	}
	if cfg.Password != nil && cfg.Username == "" {
		return nil, fmt.Errorf("vcd: username is required with password: %w", provider.ErrBadConfig)
	}
	if cfg.LegacyLogin && cfg.Password == nil {
		return nil, fmt.Errorf("vcd: legacy_login applies to username/password logins only: %w", provider.ErrBadConfig)
	}
	p := &Provider{cfg: cfg, base: base, client: cfg.HTTPClient, log: cfg.Logger}
	if p.client == nil {
		p.client = http.DefaultClient
	}
	if p.log == nil {
		p.log = hclog.NewNullLogger()
	}
	return p, nil
}

// isSystem reports whether the profile logs in to the provider org.
func (p *Provider) isSystem() bool { return strings.EqualFold(p.cfg.Org, systemOrg) }

// Login authenticates with the profile's primary credential. The grant's
// IdleTimeout is what the server reports (see settleIdle).
func (p *Provider) Login(ctx context.Context) (provider.Grant, error) {
	g, err := p.login(ctx)
	if err != nil {
		return g, err
	}
	return p.settleIdle(ctx, g), nil
}

func (p *Provider) login(ctx context.Context) (provider.Grant, error) {
	switch {
	case p.cfg.APIToken != nil:
		return p.loginAPIToken(ctx)
	case p.cfg.ServiceAccount != nil:
		return p.loginServiceAccount(ctx)
	default:
		return p.loginPassword(ctx)
	}
}

// Refresh is not something Cloud Director offers: sessions are not
// refreshed but replaced, so every grant has an empty Refresh and the
// keeper logs in again. A call anyway asks the keeper for a login.
func (p *Provider) Refresh(context.Context, provider.Grant) (provider.Grant, error) {
	return provider.Grant{}, fmt.Errorf("cloud director sessions cannot be refreshed: %w",
		provider.ErrRefreshRejected)
}

// Credential identifies the primary credential as its source yields it
// now — user@org and password, the API token, or the service-account
// token (the rotated one still waiting to be stored, if any) — as an
// opaque value for Equal (provider.CredentialID). It is never logged.
func (p *Provider) Credential(ctx context.Context) (secret.Secret, error) {
	switch {
	case p.cfg.APIToken != nil:
		tok, err := p.cfg.APIToken.Resolve(ctx)
		if err != nil {
			return secret.Secret{}, unreadable(ctx, fmt.Errorf("api_token: %w", err))
		}
		return provider.CredentialID(tok.Reveal()), nil
	case p.cfg.ServiceAccount != nil:
		tok, err := p.serviceAccountToken(ctx)
		if err != nil {
			return secret.Secret{}, unreadable(ctx, err)
		}
		return provider.CredentialID(tok.Reveal()), nil
	default:
		pw, err := p.cfg.Password.Resolve(ctx)
		if err != nil {
			return secret.Secret{}, unreadable(ctx, fmt.Errorf("password: %w", err))
		}
		return provider.CredentialID(strings.ToLower(p.principal()), pw.Reveal()), nil
	}
}

// unreadable classifies a credential that cannot be read as bad
// configuration (like vcf): no login was tried, a person must fix the
// secret source — unless the source is down or refused the read (a
// sealed Vault, a policy without read: provider.SecretKind). A read cut short by the caller's context keeps the
// context error as its class.
func unreadable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w (%w)", err, provider.SecretKind(err))
}

// Account is the Cloud Director account this provider logs in as:
// user@org lower-cased (Cloud Director compares the org, and its lockout
// the whole name, ignoring case), or the API token or service-account
// token, keyed by the credential the keeper fills in. The composition
// root names a service account by its file instead (Material), since its
// token rotates.
func (p *Provider) Account() provider.Account {
	a := provider.Account{Provider: "vcd", Origin: p.base.Origin()}
	switch {
	case p.cfg.APIToken != nil:
		a.Kind = provider.KindAPIToken
	case p.cfg.ServiceAccount != nil:
		a.Kind = provider.KindServiceAccount
	default:
		a.Kind, a.Principal = provider.KindUser, strings.ToLower(p.principal())
	}
	return a
}

// principal is the user@org login name.
func (p *Provider) principal() string { return p.cfg.Username + "@" + p.cfg.Org }

// setAuth adds the header that carries g's token.
func setAuth(req *http.Request, g provider.Grant) {
	if g.HeaderName == provider.HeaderVCloudAuth {
		req.Header.Set(provider.HeaderVCloudAuth, g.Access.Reveal())
		return
	}
	req.Header.Set(provider.HeaderAuthorization, g.HeaderValue().Reveal())
}
