// Package vcf speaks the token API of VCF SDDC Manager (and the VCF
// Installer, same endpoints): POST /v1/tokens to log in, PATCH
// /v1/tokens/access-token/refresh to mint a new access token from the
// refresh-token id, DELETE /v1/tokens/refresh-token to revoke it. It
// implements the keeper's Provider interface without knowing the keeper.
package vcf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Lifetimes used when the upstream does not tell.
const (
	// DefaultAccessLifetime applies when the access token is not a JWT
	// (SDDC Manager documents 60 minutes).
	DefaultAccessLifetime = 60 * time.Minute
	// DefaultRefreshLifetime is SDDC Manager's documented refresh-token
	// lifetime; the API never reports it.
	DefaultRefreshLifetime = 24 * time.Hour
)

// Operation names, as they appear in *provider.Error.
const (
	opLogin   = "login"
	opRefresh = "refresh access token"
	opRevoke  = "revoke refresh token"
)

// API paths.
const (
	pathTokens  = "/v1/tokens"
	pathRefresh = "/v1/tokens/access-token/refresh"
	pathRevoke  = "/v1/tokens/refresh-token"
)

// maxBody bounds what is read of any response.
const maxBody = 1 << 20

// Config configures a Provider. Either Username and Password, or APIKey
// (a VCF service user), must be set.
type Config struct {
	// URL is the SDDC Manager base URL, e.g. https://sddc-manager.lab.local.
	URL string
	// HTTPClient talks to SDDC Manager; nil builds one with
	// provider.NewHTTPClient (system roots, default timeout).
	HTTPClient *http.Client
	// Username and Password log in a user.
	Username string
	Password provider.Resolver
	// APIKey logs in a service user with {"apiKey": …} instead.
	APIKey provider.Resolver
	// RefreshLifetime overrides DefaultRefreshLifetime when an SDDC
	// Manager is configured differently.
	RefreshLifetime time.Duration
	// Logger receives Debug/Trace lines: operation, status, path and
	// fingerprints, never headers or bodies. nil discards.
	Logger hclog.Logger
}

// Provider is the SDDC Manager token protocol for one profile.
type Provider struct {
	base            provider.BaseURL
	client          *http.Client
	username        string
	password        provider.Resolver
	apiKey          provider.Resolver
	refreshLifetime time.Duration
	log             hclog.Logger
}

// New checks cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	base, err := provider.ParseBaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("vcf: %w", err)
	}
	switch {
	case cfg.APIKey != nil && (cfg.Password != nil || cfg.Username != ""):
		return nil, fmt.Errorf("vcf: set either username and password or api_key, not both (%w)", provider.ErrBadConfig)
	case cfg.APIKey == nil && (cfg.Username == "" || cfg.Password == nil):
		return nil, fmt.Errorf("vcf: username and password (or api_key) are required (%w)", provider.ErrBadConfig)
	}
	p := &Provider{base: base, client: cfg.HTTPClient, username: cfg.Username, password: cfg.Password,
		apiKey: cfg.APIKey, refreshLifetime: cfg.RefreshLifetime, log: cfg.Logger}
	if p.log == nil {
		p.log = hclog.NewNullLogger()
	}
	if p.refreshLifetime <= 0 {
		p.refreshLifetime = DefaultRefreshLifetime
	}
	if p.client == nil {
		if p.client, err = provider.NewHTTPClient(provider.HTTPOptions{Logger: p.log}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Account is the SDDC Manager account this provider logs in as: the
// user name lower-cased (SSO compares user names ignoring case), or the
// API key, keyed by the credential the keeper fills in.
func (p *Provider) Account() provider.Account {
	origin := p.base.Origin()
	if p.apiKey != nil {
		return provider.Account{Provider: "vcf", Origin: origin, Kind: provider.KindAPIKey}
	}
	return provider.Account{Provider: "vcf", Origin: origin, Kind: provider.KindUser,
		Principal: strings.ToLower(strings.TrimSpace(p.username))}
}

// Credential identifies the primary credential as its source yields it
// now — username and password, or the API key — as an opaque value for
// Equal (provider.CredentialID). It is never logged: a hash of a password
// can be tested offline.
func (p *Provider) Credential(ctx context.Context) (secret.Secret, error) {
	c, err := p.credential(ctx)
	if err != nil {
		return secret.Secret{}, err
	}
	return c.id, nil
}

// cred is the resolved primary credential.
type cred struct {
	body    []byte          // the login request body
	id      secret.Secret   // provider.CredentialID of it; never logged
	secrets []secret.Secret // to scrub from upstream messages
}

func (p *Provider) credential(ctx context.Context) (cred, error) {
	if p.apiKey != nil {
		key, err := p.apiKey.Resolve(ctx)
		if err != nil {
			return cred{}, resolveError("api_key", err)
		}
		body, _ := json.Marshal(map[string]string{"apiKey": key.Reveal()})
		return cred{body: body, id: provider.CredentialID(key.Reveal()), secrets: []secret.Secret{key, jsonEscaped(key)}}, nil
	}
	pw, err := p.password.Resolve(ctx)
	if err != nil {
		return cred{}, resolveError("password", err)
	}
	if pw.IsZero() {
		return cred{}, &provider.Error{Op: opLogin, Message: "password: the secret source yielded an empty value", Kind: provider.ErrBadConfig}
	}
	body, _ := json.Marshal(map[string]string{"username": p.username, "password": pw.Reveal()})
	id := provider.CredentialID(p.username, pw.Reveal())
	return cred{body: body, id: id, secrets: []secret.Secret{pw, jsonEscaped(pw)}}, nil
}

// jsonEscaped is s as it appears inside the JSON request body, so an
// upstream echoing the body is scrubbed even when s holds '"' or '\\'.
func jsonEscaped(s secret.Secret) secret.Secret {
	b, _ := json.Marshal(s.Reveal())
	return secret.New(string(b[1 : len(b)-1]))
}

// resolveError: the secret source failed (unset env, missing file,
// failing command). The secret package's error names the reference,
// never the value; the message names the field only, because the caller
// already says what failed ("could not read credential: password: …").
// A source that is down or refused the read (Vault) keeps its class; no
// login request went out either way.
func resolveError(field string, err error) error {
	kind := provider.SecretKind(err)
	perr := &provider.Error{Op: opLogin, Message: field, Kind: kind, Err: err}
	if kind != provider.ErrBadConfig {
		return provider.NotSent(perr)
	}
	return perr
}

// call is one request's outcome.
type call struct {
	status int
	header http.Header
	body   []byte
}

// do sends body as JSON and reads the answer. A request that got no
// response comes back as a classified *provider.Error.
func (p *Provider) do(ctx context.Context, op, method, path string, body []byte) (call, error) {
	req, err := p.base.NewRequest(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return call{}, provider.NotSent(&provider.Error{Op: op, Method: method, Path: path, Kind: provider.ErrBadConfig, Err: err})
	}
	// SDDC Manager rejects token calls without this content type (415),
	// even when the body is a bare refresh-token id.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/plain, */*")
	req.Header.Set("User-Agent", "tokenkeeper")
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		perr := provider.TransportError(op, method, path, err)
		p.log.Debug("upstream call failed", "op", op, "method", method, "path", path, "error", perr.Message)
		return call{}, perr
	}
	defer resp.Body.Close()
	b, err := provider.ReadBody(resp.Body, maxBody)
	if err != nil {
		return call{}, provider.TransportError(op, method, path, err)
	}
	p.log.Debug("upstream call", "op", op, "method", method, "path", path, "status", resp.StatusCode,
		"duration", time.Since(start).Round(time.Millisecond))
	return call{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// apiError is SDDC Manager's error body; every field is optional.
type apiError struct {
	ErrorCode          string `json:"errorCode"`
	Message            string `json:"message"`
	RemediationMessage string `json:"remediationMessage"`
}

// isAPIError reports whether body is an SDDC Manager error: a JSON object
// with an errorCode or a message.
func isAPIError(body []byte) bool {
	var ae apiError
	return json.Unmarshal(body, &ae) == nil && (ae.ErrorCode != "" || ae.Message != "")
}

// lockedCodes are the errorCodes of a locked account.
var lockedCodes = map[string]bool{"USER_ACCOUNT_LOCKED": true, "ACCOUNT_LOCKED": true}

// fail builds the *provider.Error for a non-success answer. The message
// comes from the upstream's JSON error only (never the request body):
// its message and remediation, scrubbed of the given secrets and
// truncated. A locked account says so plainly whatever the server wrote.
func fail(op, method, path string, c call, kind error, scrub ...secret.Secret) *provider.Error {
	e := &provider.Error{Op: op, Method: method, Path: path, Status: c.status, Kind: kind}
	var ae apiError
	if json.Unmarshal(c.body, &ae) == nil {
		e.Code = provider.CleanMessage(ae.ErrorCode, scrub...)
		e.Message = upstreamMessage(ae, scrub)
	}
	if kind == provider.ErrBadConfig && c.status >= 300 && c.status < 400 {
		e.Message = "the server redirects; redirects are not followed with credentials: set url to the final address"
	}
	return e
}

// upstreamMessage joins an error's message and remediation, each
// scrubbed and truncated.
func upstreamMessage(ae apiError, scrub []secret.Secret) string {
	msg := provider.CleanMessage(ae.Message, scrub...)
	if lockedCodes[strings.ToUpper(strings.TrimSpace(ae.ErrorCode))] && !strings.Contains(strings.ToLower(msg), "locked") {
		if msg == "" {
			msg = "the account is locked"
		} else {
			msg = "the account is locked: " + msg
		}
	}
	if r := provider.CleanMessage(ae.RemediationMessage, scrub...); r != "" && r != msg {
		if msg == "" {
			return r
		}
		msg += "; " + r
	}
	return msg
}

// kindFor classifies a failed status: the statuses listed in rejected mean
// kind, the rest as every provider treats them.
func kindFor(status int, rejectedKind error, rejected ...int) error {
	for _, s := range rejected {
		if status == s {
			return rejectedKind
		}
	}
	if k := provider.StatusKind(status); k != nil {
		return k
	}
	return provider.ErrProtocol
}

// SessionPaths are the path prefixes of SDDC Manager's token lifecycle
// (log in, refresh, revoke): a call to them with any method but GET or
// HEAD changes the tokens the keeper holds, so the auth proxy does not
// forward one.
func SessionPaths() []string { return []string{pathTokens} }
