package vcd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// RotatingSecret is a service account's refresh token: rotated by the
// server on every exchange, so each exchange is one Rotation of where it
// is kept. FileServiceAccount adapts a secret.Ref.
type RotatingSecret interface {
	provider.Resolver
	// BeginRotation locks the secret against other processes, proves a
	// rotated value can be stored, and reads the current one.
	BeginRotation(ctx context.Context) (Rotation, error)
	// StoreHeld stores h.Token, which a failed Commit left with the
	// provider, under the same lock: nil once stored,
	// secret.ErrSuperseded when the secret was written since h.Token was
	// rotated (it must not be stored over that), else a
	// *secret.NotStoredError naming the recovery copy.
	StoreHeld(ctx context.Context, h Held) error
}

// Held is a rotated service-account token the server issued that could
// not be stored, and the token it replaced.
type Held struct {
	Token, Replaces secret.Secret
}

// Rotation is one read → exchange → store cycle (see secret.Rotation).
type Rotation interface {
	// Value is the token as read under the lock.
	Value() secret.Secret
	// Reread reads it again under the lock.
	Reread(ctx context.Context) (secret.Secret, error)
	// Commit stores the rotated token, or saves it to a recovery file
	// and returns a *secret.NotStoredError naming it.
	Commit(ctx context.Context, v secret.Secret) error
	// Close ends the cycle and releases the lock.
	Close() error
}

// FileServiceAccount is the RotatingSecret of a file reference. A
// rotated token that cannot be stored next to the file is saved in
// fallbackDir (empty: nowhere else).
func FileServiceAccount(r secret.Ref, fallbackDir string) RotatingSecret {
	return fileServiceAccount{ref: r, fallback: fallbackDir}
}

type fileServiceAccount struct {
	ref      secret.Ref
	fallback string
}

func (f fileServiceAccount) Resolve(ctx context.Context) (secret.Secret, error) {
	return f.ref.Resolve(ctx)
}

func (f fileServiceAccount) BeginRotation(ctx context.Context) (Rotation, error) {
	rt, err := f.ref.BeginRotation(ctx, secret.RotationOptions{FallbackDir: f.fallback})
	if err != nil {
		return nil, err // never a nil *secret.Rotation in a non-nil interface
	}
	return rt, nil
}

func (f fileServiceAccount) StoreHeld(ctx context.Context, h Held) error {
	return f.ref.StoreHeld(ctx, secret.RotationOptions{Own: h.Token, OwnReplaces: h.Replaces, FallbackDir: f.fallback})
}

// ErrNotStored marks a login whose rotated service-account token could not
// be written back. The server has already invalidated the previous token,
// so the new one is held in memory (and saved in a recovery file that the
// error names) and stored before any later exchange; no access token is
// handed out until it is safely stored. It is retryable (the keeper backs
// off): a full disk or a remounted volume can recover, and a later Login
// or SaveUnsaved stores the held token without calling the server.
var ErrNotStored = errors.New("rotated service-account token not stored")

// exchangeLimit bounds a service-account exchange that no cancellation
// may cut short (the HTTP client's timeout bounds each request too).
const exchangeLimit = 45 * time.Second

// serviceAccountToken is the token the next exchange must use: a rotated
// one that could not be stored yet, else what the secret source holds.
func (p *Provider) serviceAccountToken(ctx context.Context) (secret.Secret, error) {
	if h := p.held(); !h.Token.IsZero() {
		return h.Token, nil
	}
	tok, err := p.cfg.ServiceAccount.Resolve(ctx)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("service_account: %w", err)
	}
	return tok, nil
}

// loginServiceAccount exchanges the service-account token inside one
// rotation: under the cross-process lock, after proving the rotated token
// can be stored, and storing it before the grant is returned — a grant
// handed out while the only valid token lives in memory would lock the
// automation out at the next crash.
func (p *Provider) loginServiceAccount(ctx context.Context) (provider.Grant, error) {
	if err := p.SaveUnsaved(ctx); err != nil {
		return provider.Grant{}, err
	}
	rot, err := p.cfg.ServiceAccount.BeginRotation(ctx)
	if err != nil {
		return provider.Grant{}, p.notReady(ctx, err)
	}
	defer rot.Close()
	g, tok, next, err := p.exchangeRotating(ctx, rot)
	if err != nil {
		return provider.Grant{}, err
	}
	if next.IsZero() || next.Equal(tok) {
		return g, nil
	}
	if err := p.storeRotated(ctx, rot, g, tok, next); err != nil {
		return provider.Grant{}, err
	}
	return g, nil
}

// exchangeRotating exchanges the token rot read and returns the grant,
// the token it used and the rotated one.
func (p *Provider) exchangeRotating(ctx context.Context, rot Rotation) (provider.Grant, secret.Secret, secret.Secret, error) {
	// The server rotates the token as it answers: an exchange cut short
	// after it was sent (Close, a one-shot process giving up) would lose
	// the new one. So it runs to its end, bounded on its own.
	xctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exchangeLimit)
	defer cancel()
	tok := rot.Value()
	g, next, err := p.exchange(xctx, tok)
	if !errors.Is(err, provider.ErrCredentialsRejected) {
		return g, tok, next, err
	}
	// Someone who does not take the lock (a person, an older tokenkeeper)
	// may have rotated it meanwhile: one more try with what the file holds
	// now, before this counts as a rejection.
	now, rerr := rot.Reread(ctx)
	if rerr != nil || now.Equal(tok) {
		return g, tok, next, err
	}
	p.log.Info("the service-account token changed during the exchange; retrying once with the new one",
		"old_token", tok.Fingerprint(), "token", now.Fingerprint())
	g, next, err = p.exchange(xctx, now)
	return g, now, next, err
}

// storeRotated stores next, the token that replaced tok, before g is
// handed out. When it cannot be stored, g's session is ended and next is
// held (and in its recovery file) until a later Login or SaveUnsaved.
func (p *Provider) storeRotated(ctx context.Context, rot Rotation, g provider.Grant, tok, next secret.Secret) error {
	if !provider.PlausibleToken(next.Reveal()) {
		// Written as is it would corrupt the secret file (a trailing
		// newline is trimmed on read) and be sent back mangled.
		p.log.Error("the rotated service-account token in the answer is malformed; it is not stored",
			"old_token", tok.Fingerprint())
		p.discard(ctx, g)
		return &provider.Error{Op: "exchange token", Method: http.MethodPost, Path: p.oauthPath(),
			Status: http.StatusOK, Kind: provider.ErrProtocol,
			Message: "the refresh_token in the answer is not a well-formed token; the service-account token was not stored"}
	}
	if err := rot.Commit(ctx, next); err != nil {
		p.hold(Held{Token: next, Replaces: tok})
		p.log.Error("could not store the rotated service-account token; holding it and retrying before the next exchange",
			"new_token", next.Fingerprint(), "error", err)
		p.discard(ctx, g)
		// The exchange succeeded: the server counted no failed login, so
		// for the lockout guard this is as free as a request never sent.
		return provider.NotSent(fmt.Errorf("service_account: %w: %w (%w)", ErrNotStored, err, provider.ErrUnavailable))
	}
	p.log.Debug("service-account token rotated and stored", "old", tok.Fingerprint(), "new", next.Fingerprint())
	return nil
}

// notReady classifies a rotation that could not begin. Another process
// holding the lock past the deadline is retryable. A store that cannot
// work (a mount point, an immutable file, a full disk, a recovery file
// waiting) is bad configuration: the token is not spent, and a person
// must act as the message says.
func (p *Provider) notReady(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, secret.ErrBusy):
		return provider.NotSent(fmt.Errorf("service_account: %w (%w)", err, provider.ErrUnavailable))
	case errors.Is(err, secret.ErrCannotStore), errors.Is(err, secret.ErrRecoveryPending):
		return fmt.Errorf("service_account: the rotated token could not be stored, so the token is not exchanged: %w (%w)",
			err, provider.ErrBadConfig)
	}
	return unreadable(ctx, fmt.Errorf("service_account: %w", err))
}

// SaveUnsaved tries once to store a rotated service-account token held
// in memory because its store failed, without calling the server. It
// returns nil when none is held (any more), else ErrNotStored (retryable)
// naming the recovery file that holds a copy. A process must not exit
// while it fails unless that copy exists (the agent keeps retrying).
func (p *Provider) SaveUnsaved(ctx context.Context) error {
	h := p.held()
	if h.Token.IsZero() {
		return nil
	}
	err := p.cfg.ServiceAccount.StoreHeld(ctx, h)
	switch {
	case err == nil:
		p.log.Info("stored the held service-account token", "token", h.Token.Fingerprint())
	case errors.Is(err, secret.ErrSuperseded):
		p.log.Error("the service-account file was rewritten since the held token was rotated; not storing the held token over it",
			"held_token", h.Token.Fingerprint())
	default:
		// Nothing was sent: the held token is stored before any exchange.
		return provider.NotSent(fmt.Errorf("service_account: %w: %w (%w)", ErrNotStored, err, provider.ErrUnavailable))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pendingSA.Token.Equal(h.Token) {
		p.pendingSA = Held{}
	}
	return nil
}

func (p *Provider) held() Held {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pendingSA
}

func (p *Provider) hold(h Held) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pendingSA = h
}
