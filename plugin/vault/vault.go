// Package vault is tokenkeeper's connection to HashiCorp Vault: where it
// is (address, namespace, CA), how tokenkeeper authenticates to it (a
// token the user supplies, AppRole or JWT), and reads that carry that
// authentication. It speaks Vault's API through HashiCorp's own client
// (github.com/hashicorp/vault/api).
//
// A Vault token tokenkeeper obtains (AppRole, JWT) lives in this
// process's memory only: it is renewed while renewable when it is used
// past two thirds of its life, obtained again when it has expired or
// Vault no longer takes it, and revoked by Close. A token the user
// supplied (VAULT_TOKEN, ~/.vault-token, a Vault Agent sink file) is read
// from its reference at every use, never renewed and never revoked: it is
// the user's.
//
// Errors are *Error values that name the path and field, never a value,
// and classify with the provider sentinels: ErrBadConfig (missing path
// or field, bad settings), ErrForbidden (Vault says permission denied, or
// refused tokenkeeper's login) and ErrUnavailable (sealed, down,
// unreachable, timing out).
package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// DefaultTimeout bounds one request to Vault when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Default mounts of the auth methods.
const (
	DefaultAppRoleMount = "approle"
	DefaultJWTMount     = "jwt"
)

// Config says where Vault is and how to authenticate. At most one of
// Token, AppRole and JWT is set; WithEnv fills in what the standard Vault
// environment says.
type Config struct {
	// Address is Vault's URL, e.g. https://vault.example.com:8200: https,
	// or http for a loopback address only.
	Address string
	// Namespace is the Vault Enterprise namespace; empty for the root.
	Namespace string
	// CACert is a PEM file and CAPath a directory of them to verify
	// Vault's certificate with, instead of the system roots.
	CACert, CAPath string
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
	// Token is a token the user supplies (env, file, command).
	Token *secret.Ref
	// AppRole logs in with a role id and secret id.
	AppRole *AppRole
	// JWT logs in with a JWT (a CI system's ID token).
	JWT *JWT
	// Logger receives Debug lines (operation, path, status, token
	// accessor-free facts), never a token or value; nil discards.
	Logger hclog.Logger
}

// AppRole is the approle auth method.
type AppRole struct {
	// RoleID and SecretID are references to the role's two halves.
	RoleID, SecretID *secret.Ref
	// Mount is where the method is enabled; "" means DefaultAppRoleMount.
	Mount string
}

// JWT is the jwt auth method.
type JWT struct {
	// Role is the Vault role to log in as.
	Role string
	// Token is the reference to the JWT (a file or an environment
	// variable a CI system provides).
	Token *secret.Ref
	// Mount is where the method is enabled; "" means DefaultJWTMount.
	Mount string
}

// Method names the auth method: "token", "approle" or "jwt".
func (c Config) Method() string {
	switch {
	case c.AppRole != nil:
		return "approle"
	case c.JWT != nil:
		return "jwt"
	default:
		return "token"
	}
}

// Validate reports settings that cannot work, without contacting Vault.
func (c Config) Validate() error {
	n := 0
	for _, set := range []bool{c.Token != nil, c.AppRole != nil, c.JWT != nil} {
		if set {
			n++
		}
	}
	switch {
	case c.Address == "":
		return badConfig("no Vault address: set vault.address or VAULT_ADDR")
	case n > 1:
		return badConfig("set one of token, approle and jwt")
	case n == 0:
		return badConfig("no Vault authentication: set vault.token, vault.approle or vault.jwt, or VAULT_TOKEN")
	case c.AppRole != nil && (c.AppRole.RoleID == nil || c.AppRole.SecretID == nil):
		return badConfig("approle needs role_id and secret_id")
	case c.JWT != nil && (c.JWT.Role == "" || c.JWT.Token == nil):
		return badConfig("jwt needs role and token")
	}
	return checkAddress(c.Address)
}

// checkAddress refuses plain http beyond loopback: the token would cross
// the network in the clear.
func checkAddress(addr string) error {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return badConfig("the Vault address is not a URL like https://vault.example.com:8200")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return badConfig("the Vault address must be https (http only for 127.0.0.1, ::1 and localhost): the token would cross the network in the clear")
	}
	return badConfig("the Vault address must start with https://")
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// Client reads from one Vault with one authentication. It is safe for
// concurrent use; requests that need a token wait for one another, so one
// login serves every caller.
type Client struct {
	cfg Config
	api *api.Client
	log hclog.Logger
	// sem (capacity 1) guards tok and the api client's token: one request
	// at a time, each waiting on its context.
	sem chan struct{}
	tok token
	// guard holds a refused login back (loginguard.go), guarded by sem.
	guard loginGuard
}

// New checks cfg and builds its client. It does not contact Vault.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	ac, err := newAPIClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, api: ac, log: cfg.Logger, sem: make(chan struct{}, 1), guard: newLoginGuard()}, nil
}

// newAPIClient builds HashiCorp's client from cfg alone: the environment
// variables it reads on its own (VAULT_TOKEN, VAULT_NAMESPACE,
// VAULT_SKIP_VERIFY, …) are overridden, so what the profiles file says is
// what happens. Its retries are off: the keeper decides about retrying.
func newAPIClient(cfg Config) (*api.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a proxy would see the token; Vault is reached directly
	conf := &api.Config{
		Address:    cfg.Address,
		HttpClient: &http.Client{Transport: tr},
		Timeout:    cfg.Timeout,
		MaxRetries: 0,
	}
	if err := conf.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert, CAPath: cfg.CAPath}); err != nil {
		return nil, badConfig("could not load the Vault CA (ca_cert, ca_path): " + errText(err))
	}
	c, err := api.NewClient(conf)
	if err != nil {
		return nil, badConfig("could not set up the Vault client: " + errText(err))
	}
	c.ClearToken()
	c.ClearNamespace()
	if cfg.Namespace != "" {
		c.SetNamespace(cfg.Namespace)
	}
	return c, nil
}

// Describe says which Vault and which authentication, without secrets:
// "https://vault:8200 (approle at auth/approle)".
func (c *Client) Describe() string {
	ns := ""
	if c.cfg.Namespace != "" {
		ns = ", namespace " + c.cfg.Namespace
	}
	return c.cfg.Address + " (" + c.authDescription() + ns + ")"
}

func (c *Client) authDescription() string {
	switch c.cfg.Method() {
	case "approle":
		return "approle at auth/" + mountOr(c.cfg.AppRole.Mount, DefaultAppRoleMount)
	case "jwt":
		return "jwt role " + c.cfg.JWT.Role + " at auth/" + mountOr(c.cfg.JWT.Mount, DefaultJWTMount)
	}
	return "token from " + c.cfg.Token.String()
}

func mountOr(m, def string) string {
	if m == "" {
		return def
	}
	return strings.Trim(m, "/")
}

// Read reads a logical path with a valid token: Vault's answer, or nil
// and an *Error (ErrBadConfig for a missing path).
func (c *Client) Read(ctx context.Context, path string) (*api.Secret, error) {
	return c.ReadWith(ctx, path, nil)
}

// ReadWith is Read with query parameters (e.g. a secrets engine's
// min_validity), which must not be secrets: Vault's audit log and
// proxies see them.
func (c *Client) ReadWith(ctx context.Context, path string, query map[string][]string) (*api.Secret, error) {
	path = strings.Trim(path, "/")
	var s *api.Secret
	err := c.withToken(ctx, func(ctx context.Context) error {
		var err error
		s, err = c.api.Logical().ReadWithDataWithContext(ctx, path, query)
		return err
	})
	if err != nil {
		return nil, c.fail("read", path, err)
	}
	// A KV version 2 mount read without data/ answers 404 with only a
	// warning, which the api client hands back as a secret.
	if s == nil || (len(s.Data) == 0 && len(s.Warnings) > 0) {
		return nil, &Error{Op: "read", Path: path, Status: http.StatusNotFound, Msg: "no secret at this path", Kind: provider.ErrBadConfig}
	}
	return s, nil
}

// Write writes data to a logical path with a valid token.
func (c *Client) Write(ctx context.Context, path string, data map[string]any) (*api.Secret, error) {
	path = strings.Trim(path, "/")
	var s *api.Secret
	err := c.withToken(ctx, func(ctx context.Context) error {
		var err error
		s, err = c.api.Logical().WriteWithContext(ctx, path, data)
		return err
	})
	if err != nil {
		return nil, c.fail("write", path, err)
	}
	return s, nil
}

// Close revokes the token tokenkeeper obtained, if it still lives, and
// forgets it; a later request logs in again. A user's token is left alone.
func (c *Client) Close(ctx context.Context) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	if !c.tok.created || c.tok.value.IsZero() || c.tok.expired(time.Now()) {
		c.tok = token{}
		return nil
	}
	c.api.SetToken(c.tok.value.Reveal())
	err := c.api.Auth().Token().RevokeSelfWithContext(ctx, "")
	c.api.ClearToken()
	c.tok = token{}
	if err != nil {
		return c.fail("revoke token", "auth/token/revoke-self", err)
	}
	c.log.Debug("vault token revoked", "vault", c.cfg.Address)
	return nil
}

func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &Error{Op: "wait for the Vault client", Msg: "gave up", Kind: provider.ErrUnavailable, Err: ctx.Err()}
	}
}

func (c *Client) release() { <-c.sem }

// errText is err's message for errors that never hold a secret (TLS files,
// address parsing), on one line.
func errText(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// ErrNoField is wrapped by the error of a secret without the field asked
// for.
var ErrNoField = errors.New("no such field")

// Field reads path and returns one field of its data as a secret: of
// data.data for a KV version 2 read (path …/data/…), else of data. A KV
// version 2 mount named without data/ gets an error that says how to
// write the path.
func (c *Client) Field(ctx context.Context, path, field string) (secret.Secret, error) {
	s, err := c.Read(ctx, path)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Op == "read" {
			e.Field = field
			// A KV v2 path without data/ is refused (403) by a policy
			// written for the right one, or not found (404): either way
			// the path is what to fix.
			if e.Status == http.StatusNotFound || e.Status == http.StatusForbidden {
				if hint := c.kv2Hint(ctx, e.Path); hint != "" {
					e.Msg, e.Kind = e.Msg+hint, provider.ErrBadConfig
				}
			}
		}
		return secret.Secret{}, err
	}
	v, err := fieldOf(s, field)
	if err != nil {
		return secret.Secret{}, &Error{Op: "read", Path: strings.Trim(path, "/"), Field: field, Msg: err.Error(),
			Kind: provider.ErrBadConfig, Err: ErrNoField}
	}
	return v, nil
}

// Address is the Vault the client speaks to.
func (c *Client) Address() string { return c.cfg.Address }

// String is Describe.
func (c *Client) String() string { return c.Describe() }

var _ fmt.Stringer = (*Client)(nil)
