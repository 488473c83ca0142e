package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tokenkeeper/tokenkeeper/host"
)

func (d *demo) token(ctx context.Context) (*host.Token, error) {
	return d.client.Token(ctx, profile, host.TokenOptions{})
}

func (d *demo) stats(ctx context.Context) string {
	st, err := d.sim.stats(ctx)
	if err != nil {
		return err.Error()
	}
	return st.String()
}

func (d *demo) login(ctx context.Context) error {
	d.say("Step 1 - login. Asking the plugin for a token of %q; nothing is cached yet.", profile)
	tok, err := d.token(ctx)
	if err != nil {
		return err
	}
	d.say("Got token %s (%s, header %s), valid until %s.", tok.Fingerprint, tok.TokenType, tok.HeaderName, tok.ExpiresAt.Format(time.TimeOnly))
	d.say("Simulator: %s", d.stats(ctx))
	return nil
}

func (d *demo) callAPI(ctx context.Context) error {
	d.say("Step 2 - calling the API. host.Transport adds the header the plugin names to each request:")
	if err := d.getDomains(ctx, http.StatusOK); err != nil {
		return err
	}
	d.say("Simulator: %s", d.stats(ctx))
	return nil
}

func (d *demo) proactiveRefresh(ctx context.Context) error {
	before, err := d.token(ctx)
	if err != nil {
		return err
	}
	d.say("Step 3 - proactive refresh. The plugin refreshes at about two thirds of the token's life, in the background. Waiting...")
	deadline := time.Now().Add(accessTTL)
	for {
		st, err := d.sim.stats(ctx)
		if err != nil {
			return err
		}
		if st.Refreshes >= 1 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no proactive refresh within %s (simulator: %s)", accessTTL, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	after, err := d.token(ctx)
	if err != nil {
		return err
	}
	d.say("The token was refreshed before it expired: %s -> %s, no new login.", before.Fingerprint, after.Fingerprint)
	d.say("Simulator: %s", d.stats(ctx))
	return nil
}

func (d *demo) refreshOn401(ctx context.Context) error {
	d.say("Step 4 - a 401. The simulator now revokes every access token, as a restarted SDDC Manager would.")
	before, err := d.token(ctx)
	if err != nil {
		return err
	}
	if err := d.sim.expire(ctx, "access"); err != nil {
		return err
	}
	d.say("Calling the API with the cached token %s:", before.Fingerprint)
	if err := d.getDomains(ctx, http.StatusOK); err != nil {
		return err
	}
	after, err := d.token(ctx)
	if err != nil {
		return err
	}
	d.say("The Transport saw the 401, invalidated %s by fingerprint, got %s (one refresh) and retried once.", before.Fingerprint, after.Fingerprint)
	d.say("Simulator: %s", d.stats(ctx))
	return nil
}

func (d *demo) revoke(ctx context.Context) error {
	d.say("Step 5 - teardown. Revoking the profile: the plugin deletes its refresh token upstream.")
	if err := d.client.Revoke(ctx, profile); err != nil {
		return err
	}
	if err := d.client.Close(); err != nil {
		return err
	}
	d.say("Closed the plugin. Simulator: %s", d.stats(ctx))
	return nil
}

// getDomains calls GET /v1/domains through the Transport.
func (d *demo) getDomains(ctx context.Context, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.sim.URL+"/v1/domains", nil)
	if err != nil {
		return err
	}
	resp, err := d.api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("GET /v1/domains: HTTP %d, want %d", resp.StatusCode, want)
	}
	return nil
}
