package vault

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// token is the Vault token requests carry.
type token struct {
	value secret.Secret
	// created: tokenkeeper logged in for it (renew, revoke); else it is
	// the user's, read from its reference.
	created bool
	// ttl is the life Vault gave it at obtained (0: it does not expire);
	// renewable says whether Vault will extend it.
	ttl       time.Duration
	renewable bool
	obtained  time.Time
}

// step is what to do with the token before a request.
type step int

const (
	stepUse   step = iota // send it
	stepRenew             // renew it first
	stepLogin             // obtain a new one
)

// next decides about t at now: a missing, expired or nearly expired token
// tokenkeeper created is replaced, one past two thirds of its life is
// renewed while Vault says it is renewable, anything else is used.
func (t token) next(now time.Time) step {
	switch {
	case !t.created || t.value.IsZero():
		return stepLogin // a user's token is read afresh for each request
	case t.ttl <= 0:
		return stepUse
	case t.expired(now):
		return stepLogin
	case t.renewable && now.Sub(t.obtained) >= t.ttl*2/3:
		return stepRenew
	}
	return stepUse
}

// expired: the token has less than a margin of its life left (a tenth of
// it, at most 30s), too little for a request to arrive in time.
func (t token) expired(now time.Time) bool {
	if t.ttl <= 0 {
		return false
	}
	margin := min(t.ttl/10, 30*time.Second)
	return !now.Before(t.obtained.Add(t.ttl - margin))
}

// withToken runs op with a valid token on the api client. A request a
// created token was refused for (403) is checked with a token lookup: if
// Vault no longer knows the token (revoked, expired early), tokenkeeper
// logs in once more and repeats op; else the 403 stands.
func (c *Client) withToken(ctx context.Context, op func(context.Context) error) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	defer c.api.ClearToken()
	if err := c.prepare(ctx); err != nil {
		return err
	}
	err := op(ctx)
	// Every 403 of a created token costs one lookup-self, also when it is
	// the policy's or the engine's answer (role limit): acceptable for an
	// error path, and the only way to tell a dead token from a denial.
	if !isStatus(err, http.StatusForbidden) || !c.tok.created || c.tokenAlive(ctx) {
		return err
	}
	c.log.Debug("vault token no longer valid; logging in again", "vault", c.cfg.Address)
	c.tok = token{}
	if err := c.prepare(ctx); err != nil {
		return err
	}
	return op(ctx)
}

// prepare puts a valid token on the api client, renewing or obtaining
// one as token.next decides.
func (c *Client) prepare(ctx context.Context) error {
	switch c.tok.next(time.Now()) {
	case stepRenew:
		c.api.SetToken(c.tok.value.Reveal())
		if c.renew(ctx) {
			return nil
		}
		fallthrough // not renewed: a new one
	case stepLogin:
		t, err := c.obtain(ctx)
		if err != nil {
			return err
		}
		c.tok = t
	}
	c.api.SetToken(c.tok.value.Reveal())
	return nil
}

// renew extends the current token; false when Vault would not, so the
// caller logs in instead.
func (c *Client) renew(ctx context.Context) bool {
	s, err := c.api.Auth().Token().RenewSelfWithContext(ctx, int(c.tok.ttl/time.Second))
	if err != nil || s == nil || s.Auth == nil {
		c.log.Debug("vault token renewal failed; logging in again", "vault", c.cfg.Address, "error", errSummary(err))
		return false
	}
	now := time.Now()
	ttl := time.Duration(s.Auth.LeaseDuration) * time.Second
	// At its max TTL Vault renews for what is left: stop renewing once the
	// rest is short, and log in when it runs out.
	c.tok.renewable = s.Auth.Renewable && ttl >= c.tok.ttl/2
	c.tok.ttl, c.tok.obtained = ttl, now
	c.log.Debug("vault token renewed", "vault", c.cfg.Address, "ttl", ttl)
	return true
}

// tokenAlive asks Vault whether the current token is still valid.
func (c *Client) tokenAlive(ctx context.Context) bool {
	_, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
	return err == nil
}

// obtain returns the token requests will carry: the user's, read from its
// reference now, or a new one from the configured auth method.
func (c *Client) obtain(ctx context.Context) (token, error) {
	switch {
	case c.cfg.AppRole != nil:
		return c.loginAppRole(ctx)
	case c.cfg.JWT != nil:
		return c.loginJWT(ctx)
	}
	v, err := c.cfg.Token.Resolve(ctx)
	if err != nil {
		return token{}, &Error{Op: "read the Vault token", Msg: "vault.token", Kind: provider.ErrBadConfig, Err: err}
	}
	return token{value: v}, nil
}

func (c *Client) loginAppRole(ctx context.Context) (token, error) {
	ar := c.cfg.AppRole
	roleID, err := ar.RoleID.Resolve(ctx)
	if err != nil {
		return token{}, &Error{Op: "log in to Vault", Msg: "approle role_id", Kind: provider.ErrBadConfig, Err: err}
	}
	secretID, err := ar.SecretID.Resolve(ctx)
	if err != nil {
		return token{}, &Error{Op: "log in to Vault", Msg: "approle secret_id", Kind: provider.ErrBadConfig, Err: err}
	}
	path := "auth/" + mountOr(ar.Mount, DefaultAppRoleMount) + "/login"
	body := map[string]any{"role_id": roleID.Reveal(), "secret_id": secretID.Reveal()}
	return c.login(ctx, path, body, roleID.Reveal(), secretID.Reveal())
}

func (c *Client) loginJWT(ctx context.Context) (token, error) {
	j := c.cfg.JWT
	jwt, err := j.Token.Resolve(ctx)
	if err != nil {
		return token{}, &Error{Op: "log in to Vault", Msg: "jwt token", Kind: provider.ErrBadConfig, Err: err}
	}
	path := "auth/" + mountOr(j.Mount, DefaultJWTMount) + "/login"
	return c.login(ctx, path, map[string]any{"role": j.Role, "jwt": jwt.Reveal()}, j.Role, jwt.Reveal())
}

// login sends a login request without a token, unless the login guard
// holds the credential (cred: its parts) back after a refusal. A refused
// login (400, 403: wrong secret id, a JWT Vault does not accept) is
// ErrForbidden, never ErrCredentialsRejected: it says nothing about the
// VMware credential the keeper's lockout guard counts.
func (c *Client) login(ctx context.Context, path string, body map[string]any, cred ...string) (token, error) {
	d := c.guard.digest(append([]string{c.cfg.Address, c.cfg.Namespace, path}, cred...)...)
	if until, held := c.guard.holds(d, time.Now()); held {
		return token{}, &Error{Op: "log in", Path: path, Kind: provider.ErrForbidden, Status: c.guard.cause.Status,
			Msg: c.guard.cause.Msg + "; not sent again with the same credential before " +
				until.UTC().Format(time.RFC3339) + " (Vault locks the role out after 5 refused logins)"}
	}
	c.api.ClearToken()
	s, err := c.api.Logical().WriteWithContext(ctx, path, body)
	if err != nil {
		e := classify("log in", path, err)
		if e.Status == http.StatusBadRequest || e.Status == http.StatusForbidden {
			e.Kind = provider.ErrForbidden
			e.Msg = "Vault refused the login: " + e.Msg
			c.guard.refuse(d, time.Now(), e)
		}
		return token{}, e
	}
	c.guard.accept()
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return token{}, &Error{Op: "log in", Path: path, Msg: "Vault answered without a token", Kind: provider.ErrProtocol}
	}
	t := token{
		value: secret.New(s.Auth.ClientToken), created: true,
		ttl:       time.Duration(s.Auth.LeaseDuration) * time.Second,
		renewable: s.Auth.Renewable, obtained: time.Now(),
	}
	c.log.Debug("logged in to vault", "vault", c.cfg.Address, "path", path, "ttl", t.ttl, "renewable", t.renewable)
	return t, nil
}

// isStatus reports whether err is Vault's answer with that HTTP status.
func isStatus(err error, status int) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}
