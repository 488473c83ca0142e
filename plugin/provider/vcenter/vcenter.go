// Package vcenter speaks the session wire of the vSphere Automation API
// (vCenter): a Basic login at POST /api/session (vSphere 7.0 U2 and
// later), falling back to POST /rest/com/vmware/cis/session on older
// servers and vcsim, the vmware-api-session-id header, a session probe
// and logout. vCenter does not report its sessions' idle timeout, so the
// profile says it (idle_timeout) or DefaultIdleTimeout applies. It
// implements the keeper's Provider and Prober interfaces without
// importing the keeper.
package vcenter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// DefaultIdleTimeout is vCenter's documented default idle timeout of API
// sessions (SOAP and REST alike, config.vmacore.soap.sessionTimeout):
// what a grant assumes when the profile sets no idle_timeout. An
// administrator may have shortened it; the profile's idle_timeout then
// says so.
const DefaultIdleTimeout = 30 * time.Minute

// TokenType is the Grant.TokenType of a vCenter session id: not a bearer
// scheme, the header carries the id alone.
const TokenType = "session"

// Config describes one vCenter profile.
type Config struct {
	// URL is the base URL, e.g. https://vcenter.example.com.
	URL string
	// HTTPClient carries TLS settings and timeouts; nil means a default
	// client (tests only: production wiring passes provider.NewHTTPClient).
	HTTPClient *http.Client
	// Username is the SSO user, e.g. svc-automation@vsphere.local.
	Username string
	// Password is the user's password.
	Password provider.Resolver
	// IdleTimeout is the server's session idle timeout; zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Logger receives debug lines without secrets; nil discards.
	Logger hclog.Logger
}

// Provider is a vCenter upstream for one profile. It is safe for
// concurrent use.
type Provider struct {
	cfg    Config
	base   provider.BaseURL
	client *http.Client
	log    hclog.Logger

	// mu guards legacy.
	mu sync.Mutex
	// legacy: the server answered 404 at /api/session, so this profile
	// logs in at /rest/com/vmware/cis/session from now on.
	legacy bool
}

// Grant Meta keys and values: which endpoint generation a session
// belongs to, for its probe and logout.
const (
	metaMode   = "mode"
	modeAPI    = "api"
	modeLegacy = "rest"
)

// New validates cfg and returns a provider.
func New(cfg Config) (*Provider, error) {
	base, err := provider.ParseBaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("vcenter: %w", err)
	}
	if cfg.Username == "" || cfg.Password == nil {
		return nil, fmt.Errorf("vcenter: username and password are required: %w", provider.ErrBadConfig)
	}
	if cfg.IdleTimeout < 0 {
		return nil, fmt.Errorf("vcenter: idle_timeout must not be negative: %w", provider.ErrBadConfig)
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

// idleTimeout is the idle timeout grants carry.
func (p *Provider) idleTimeout() time.Duration {
	if p.cfg.IdleTimeout > 0 {
		return p.cfg.IdleTimeout
	}
	return DefaultIdleTimeout
}

// Refresh is not something vCenter offers: a session is extended by use
// and replaced by a login, so grants carry no Refresh and the keeper
// never calls it; a call anyway asks the keeper for a login.
func (p *Provider) Refresh(context.Context, provider.Grant) (provider.Grant, error) {
	return provider.Grant{}, fmt.Errorf("vcenter sessions cannot be refreshed: %w", provider.ErrRefreshRejected)
}

// Credential identifies the user name (as SSO compares it) and password
// the secret source yields now, as an opaque value for Equal
// (provider.CredentialID). It is never logged.
func (p *Provider) Credential(ctx context.Context) (secret.Secret, error) {
	pw, err := p.cfg.Password.Resolve(ctx)
	if err != nil {
		return secret.Secret{}, unreadable(ctx, err)
	}
	return provider.CredentialID(p.principal(), pw.Reveal()), nil
}

// unreadable classifies a password that cannot be read as bad
// configuration: no login was tried, a person must fix the secret source.
// A read cut short by the caller's context keeps its own class.
func unreadable(ctx context.Context, err error) error {
	err = fmt.Errorf("password: %w", err)
	if ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w (%w)", err, provider.ErrBadConfig)
}

// Account is the SSO account this provider logs in as: the user name
// lower-cased (SSO ignores its case) at the server's origin.
func (p *Provider) Account() provider.Account {
	return provider.Account{Provider: "vcenter", Origin: p.base.Origin(), Kind: provider.KindUser, Principal: p.principal()}
}

// principal is the user name as SSO compares it.
func (p *Provider) principal() string { return strings.ToLower(strings.TrimSpace(p.cfg.Username)) }

// usesLegacy reports whether this profile's server lacks /api/session.
func (p *Provider) usesLegacy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.legacy
}

// rememberLegacy records that the server answered 404 at /api/session.
func (p *Provider) rememberLegacy() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.legacy = true
}

// newRequest builds a request to path on the configured host, asking for
// JSON and for the session id in a header rather than a cookie.
func (p *Provider) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := p.base.NewRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(headerUseHeaderAuthn, "true")
	return req, nil
}
