package engine

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
)

const tokenHelpDescription = `
Returns an access token of the profile valid for at least min_validity:
token, token_type, the exact HTTP header to send (header_name,
header_value), expires_at, ttl (its remaining life in seconds) and
fingerprint (a non-reversible id to invalidate it with). The engine logs in
once for every reader and refreshes ahead of expiry; a Vault policy on
token/<name> is the least privilege of a job. The response carries no lease:
the token is shared by every reader, so no reader's lease may end it.
`

const invalidateHelpDescription = `
Reports that the token named by fingerprint just got a 401 upstream. The
engine drops it only if it is still the current one, so a thousand readers
hitting the same 401 cause one refresh. Idempotent.
`

const statusHelpDescription = `
What the engine holds for a profile (status/<name>) or for every profile
(status): state, expiries, the fingerprint of the current token, the last
error, when the lockout guard allows the next login, and the upstream
calls made. Never a secret.
`

func (b *backend) tokenPaths() []*framework.Path {
	name := framework.GenericNameRegex("name")
	nameField := &framework.FieldSchema{Type: framework.TypeString, Description: "Name of the profile.", Required: true}
	return []*framework.Path{
		{
			Pattern: "token/" + name,
			Fields: map[string]*framework.FieldSchema{
				"name": nameField,
				"min_validity": {Type: framework.TypeDurationSecond,
					Description: "The token must stay valid at least this long (default 0: any live token)."},
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.readToken},
			},
			HelpSynopsis:    "Read an access token of a profile.",
			HelpDescription: strings.TrimSpace(tokenHelpDescription),
		},
		{
			Pattern: "invalidate/" + name,
			Fields: map[string]*framework.FieldSchema{
				"name":        nameField,
				"fingerprint": {Type: framework.TypeString, Description: "Fingerprint of the token that got a 401.", Required: true},
				"reason":      {Type: framework.TypeString, Description: "Why, for the engine's log (no secrets)."},
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.invalidateToken},
			},
			HelpSynopsis:    "Invalidate a token that got a 401, if it is still the current one.",
			HelpDescription: strings.TrimSpace(invalidateHelpDescription),
		},
		{
			Pattern: "status/" + name,
			Fields:  map[string]*framework.FieldSchema{"name": nameField},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.readStatus},
			},
			HelpSynopsis:    "What the engine holds for a profile, without secrets.",
			HelpDescription: strings.TrimSpace(statusHelpDescription),
		},
		{
			Pattern: "status/?$",
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.readStatusAll},
			},
			HelpSynopsis:    "What the engine holds for every profile, without secrets.",
			HelpDescription: strings.TrimSpace(statusHelpDescription),
		},
	}
}

func (b *backend) readToken(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	o := keeper.GetOptions{MinValidity: secondsOf(d.Get("min_validity").(int))}
	var t keeper.Token
	err := b.withKeeper(ctx, req.MountPoint, name, func(k *keeper.Keeper) error {
		var err error
		t, err = k.Get(ctx, name, o)
		return err
	})
	if err != nil {
		return nil, codedError(err)
	}
	return &logical.Response{Data: tokenData(t)}, nil
}

func tokenData(t keeper.Token) map[string]any {
	return map[string]any{
		"profile":      t.Profile,
		"provider":     t.Provider,
		"token":        t.Access.Reveal(),
		"token_type":   t.TokenType,
		"header_name":  t.HeaderName,
		"header_value": t.HeaderValue.Reveal(),
		"expires_at":   t.ExpiresAt.UTC().Format(time.RFC3339),
		"ttl":          int64(max(time.Until(t.ExpiresAt), 0).Seconds()),
		"fingerprint":  t.Fingerprint,
	}
}

func (b *backend) invalidateToken(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	fp := d.Get("fingerprint").(string)
	if fp == "" {
		return nil, badRequest(errors.New("fingerprint is required"))
	}
	var dropped bool
	err := b.withKeeper(ctx, req.MountPoint, name, func(k *keeper.Keeper) error {
		var err error
		dropped, err = k.Invalidate(ctx, name, fp, d.Get("reason").(string))
		return err
	})
	if err != nil {
		return nil, codedError(err)
	}
	return &logical.Response{Data: map[string]any{"invalidated": dropped}}, nil
}

func (b *backend) readStatus(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	st, err := b.status(ctx, req.MountPoint, d.Get("name").(string))
	if err != nil {
		return nil, codedError(err)
	}
	return &logical.Response{Data: statusData(st)}, nil
}

func (b *backend) readStatusAll(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := req.Storage.List(ctx, profilePrefix)
	if err != nil {
		return nil, err
	}
	all := make(map[string]any, len(names))
	for _, n := range names {
		st, err := b.status(ctx, req.MountPoint, n)
		if errors.Is(err, errNoProfile) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, codedError(err)
		}
		all[n] = statusData(st)
	}
	return &logical.Response{Data: map[string]any{"profiles": all}}, nil
}

// status is the keeper's status of name, building its keeper (which
// contacts nobody) when no read has yet.
func (b *backend) status(ctx context.Context, mount, name string) (keeper.Status, error) {
	k, err := b.keeperFor(ctx, mount, name)
	if err != nil {
		return keeper.Status{}, err
	}
	return k.Status()[0], nil
}

func statusData(s keeper.Status) map[string]any {
	return map[string]any{
		"provider": s.Provider, "url": s.URL, "state": string(s.State),
		"access_expires_at":  timeText(s.AccessExpiresAt),
		"refresh_expires_at": timeText(s.RefreshExpiresAt),
		"fingerprint":        s.Fingerprint,
		"last_error":         s.LastError,
		"retry_at":           timeText(s.RetryAt),
		"last_used":          timeText(s.LastUsed),
		"logins":             s.Counts.Logins,
		"login_failures":     s.Counts.LoginFailures,
		"refreshes":          s.Counts.Refreshes,
		"refresh_failures":   s.Counts.RefreshFailures,
		"revocations":        s.Counts.Revocations,
	}
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func secondsOf(n int) time.Duration { return time.Duration(n) * time.Second }
