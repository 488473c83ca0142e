// Package vault speaks to tokenkeeper's Vault secrets engine
// (host/vault): a profile of provider vault reads its access tokens from
// the engine's token/<name> path instead of logging in upstream. The
// engine owns the upstream session for the whole fleet (login, refresh,
// lockout guard, revocation), so this provider never logs in, refreshes
// or revokes upstream: it relays (keeper.Relay), passing on the
// validity the keeper's callers need, and passes a 401's invalidation on
// to the engine (keeper.Invalidator). It reaches Vault through the
// connection of plugin/vault (its address, CA and auth: token, AppRole,
// JWT); a Vault token that connection logged in for is revoked when the
// keeper closes, as for {vault: …} references.
//
// Like every provider it knows nothing of the keeper: the engine's
// lockout-guard refusal is a *provider.GuardRefusal and its min-validity
// refusal provider.ErrMinValidity, which the keeper reports as its own.
package vault

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
	vaultconn "github.com/tokenkeeper/tokenkeeper/plugin/vault"
)

// Config describes one profile of provider vault.
type Config struct {
	// Client is the Vault connection (shared by the profiles and
	// references that use the same Vault, address and auth).
	Client *vaultconn.Client
	// Mount is the engine's mount path, Name its profile.
	Mount, Name string
	// Logger receives debug lines without secrets; nil discards.
	Logger hclog.Logger
}

// Provider reads one engine profile's tokens. It is safe for concurrent
// use.
type Provider struct {
	cfg Config
	log hclog.Logger
}

// New checks cfg; it does not contact Vault.
func New(cfg Config) (*Provider, error) {
	cfg.Mount = strings.Trim(cfg.Mount, "/")
	switch {
	case cfg.Client == nil:
		return nil, errors.New("provider vault: no Vault connection")
	case cfg.Mount == "" || cfg.Name == "":
		return nil, errors.New("provider vault: mount and name are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	return &Provider{cfg: cfg, log: cfg.Logger}, nil
}

func (p *Provider) tokenPath() string      { return p.cfg.Mount + "/token/" + p.cfg.Name }
func (p *Provider) invalidatePath() string { return p.cfg.Mount + "/invalidate/" + p.cfg.Name }

// URL is where the tokens come from, for the status: Vault's address
// and the token path.
func (p *Provider) URL() string {
	return strings.TrimSuffix(p.cfg.Client.Address(), "/") + "/v1/" + p.tokenPath()
}

// upstream names the engine profile for messages.
func (p *Provider) upstream() string {
	return "the Vault engine at " + p.cfg.Client.Address() + " (" + p.tokenPath() + ")"
}

// fetchSlack is added to the min validity asked of the engine: its ttl
// is whole seconds (truncated), and the answer takes a moment to arrive,
// so that the token still meets the keeper's min validity plus margin.
const fetchSlack = 2 * time.Second

// Fetch reads a token valid for at least minValidity (plus fetchSlack,
// rounded up to the second; the engine adds its own margin).
func (p *Provider) Fetch(ctx context.Context, minValidity time.Duration) (provider.Grant, error) {
	g, _, err := p.read(ctx, minValidity+fetchSlack)
	return g, err
}

func (p *Provider) read(ctx context.Context, need time.Duration) (provider.Grant, string, error) {
	query := map[string][]string{"min_validity": {strconv.Itoa(int(math.Ceil(need.Seconds())))}}
	start := time.Now()
	s, err := p.cfg.Client.ReadWith(ctx, p.tokenPath(), query)
	if err != nil {
		return provider.Grant{}, "", classify(err, p.upstream())
	}
	g, fp, err := grantOf(s)
	if err != nil {
		return provider.Grant{}, "", &provider.Error{Op: "read token", Path: p.tokenPath(), Message: err.Error(), Kind: provider.ErrProtocol}
	}
	p.log.Debug("token read from the engine", "path", p.tokenPath(), "fingerprint", fp,
		"expires_in", g.AccessLifetime, "took", time.Since(start))
	return g, fp, nil
}

// grantOf maps the engine's answer: token, token_type, header_name,
// header_value, ttl (the remaining life, from which the expiry is
// anchored locally), fingerprint, and principal and role when given. The
// header and fingerprint must be what this keeper computes from the
// token: an invalidation names the token by it.
func grantOf(s *api.Secret) (provider.Grant, string, error) {
	str := func(k string) string { v, _ := s.Data[k].(string); return v }
	tok := str("token")
	if tok == "" {
		return provider.Grant{}, "", errors.New("the engine answered without a token")
	}
	g := provider.Grant{
		Access: secret.New(tok), TokenType: str("token_type"), HeaderName: str("header_name"),
		Principal: str("principal"),
	}
	if r := str("role"); r != "" {
		g.Roles = strings.Split(r, ", ")
	}
	ttl, err := ttlOf(s.Data["ttl"])
	if err != nil {
		return provider.Grant{}, "", err
	}
	g.AccessLifetime = ttl
	if g.HeaderName == "" || g.HeaderValue().Reveal() != str("header_value") {
		return provider.Grant{}, "", errors.New("the engine's header does not match its token")
	}
	fp := str("fingerprint")
	if fp != g.Access.Fingerprint() {
		return provider.Grant{}, "", errors.New("the engine's fingerprint is not this keeper's for the token (an invalidation could not name it)")
	}
	return g, fp, nil
}

// ttlOf reads the ttl field (seconds, a JSON number).
func ttlOf(v any) (time.Duration, error) {
	var n int64
	var err error
	switch x := v.(type) {
	case interface{ Int64() (int64, error) }: // json.Number
		n, err = x.Int64()
	case float64:
		n = int64(x)
	default:
		err = errors.New("no ttl")
	}
	if err != nil || n <= 0 {
		return 0, errors.New("the engine answered without a positive ttl")
	}
	return time.Duration(n) * time.Second, nil
}

// Invalidate tells the engine that the token fingerprint names got a 401
// (invalidate/<name>); the engine drops it if it is still its current
// one.
func (p *Provider) Invalidate(ctx context.Context, fingerprint, reason string) error {
	_, err := p.cfg.Client.Write(ctx, p.invalidatePath(), map[string]any{"fingerprint": fingerprint, "reason": reason})
	if err != nil {
		return classify(err, p.upstream())
	}
	return nil
}

// Login is Fetch without a min validity (the keeper calls Fetch).
func (p *Provider) Login(ctx context.Context) (provider.Grant, error) { return p.Fetch(ctx, 0) }

// Refresh is never called: grants carry no refresh credential.
func (p *Provider) Refresh(context.Context, provider.Grant) (provider.Grant, error) {
	return provider.Grant{}, provider.ErrRefreshRejected
}

// Revoke revokes nothing: the engine owns the upstream session, shared
// by every reader; it revokes it when the profile is deleted or the
// engine unmounted.
func (p *Provider) Revoke(context.Context, provider.Grant) error { return nil }

// Credential names the engine profile: this process holds no login
// secret of its own (the keeper asks Relays for none).
func (p *Provider) Credential(context.Context) (secret.Secret, error) {
	return provider.CredentialID("vault", p.cfg.Client.Address(), p.tokenPath()), nil
}

// Account is the engine profile as an account. The keeper keeps no
// lockout budget for a Relay; the engine keeps the upstream account's.
func (p *Provider) Account() provider.Account {
	origin, err := provider.Origin(p.cfg.Client.Address())
	if err != nil {
		origin = p.cfg.Client.Address()
	}
	return provider.Account{Provider: "vault", Origin: origin, Kind: provider.KindUser, Principal: p.tokenPath()}
}
