// SPDX-License-Identifier: Apache-2.0

//go:generate packer-sdc mapstructure-to-hcl2 -type Config,DatasourceOutput

// Package datasource is the `tokenkeeper` Packer data source: it asks
// tokenkeeper for a bearer token that stays valid for at least min_validity
// and exposes it, with the exact HTTP header to send, to the template.
//
// It only translates: the token's lifecycle (login, cache, refresh, lockout
// guard, revoke) belongs to the tokenkeeper agent or plugin child it talks to.
package datasource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/zclconf/go-cty/cty"

	"github.com/tokenkeeper/tokenkeeper/host"
)

// DefaultHelper is the tokenkeeper binary looked up on PATH when helper_path
// is not set.
const DefaultHelper = "tokenkeeper"

// executeTimeout bounds one Execute: starting the helper, and the upstream
// login it may need (the keeper bounds its own upstream call at 60 s).
const executeTimeout = 3 * time.Minute

// Config is the data source block of a template.
type Config struct {
	// Name of the tokenkeeper profile to get a token for, as in the
	// tokenkeeper profiles file (for example "sddc").
	Profile string `mapstructure:"profile" required:"true"`
	// How long the token must stay valid after Packer gets it, as a Go
	// duration ("45m", "2h"). Packer evaluates data sources once per build, so
	// this should cover the whole build. Default: tokenkeeper's own default
	// (a 30 s safety margin).
	MinValidity string `mapstructure:"min_validity" required:"false"`
	// Path of the tokenkeeper profiles file. Default: tokenkeeper's own
	// ($TOKENKEEPER_CONFIG, else $XDG_CONFIG_HOME/tokenkeeper/config.yaml).
	// The agent serving this file is used when one runs; otherwise the data
	// source launches tokenkeeper with it for the one call.
	ConfigPath string `mapstructure:"config" required:"false"`
	// Path of the tokenkeeper binary. Default: `tokenkeeper` on PATH.
	HelperPath string `mapstructure:"helper_path" required:"false"`
	// When the upstream is unavailable and no token valid for min_validity
	// can be had, accept the cached token while it has not expired instead
	// of failing the build; shorter_than_requested then says so and the
	// log warns. Default: false (the build fails, retryably).
	AllowShorter bool `mapstructure:"allow_shorter" required:"false"`
}

// DatasourceOutput is what `data.tokenkeeper.NAME` exposes. Bind token and
// header_value to a `sensitive` local so Packer redacts them from its output.
type DatasourceOutput struct {
	// The bare access token.
	Token string `mapstructure:"token"`
	// The HTTP header to send it in, e.g. "Authorization".
	HeaderName string `mapstructure:"header_name"`
	// The header's exact value, e.g. "Bearer eyJ…".
	HeaderValue string `mapstructure:"header_value"`
	// When the token expires, RFC 3339 in UTC.
	ExpiresAt string `mapstructure:"expires_at"`
	// A short non-reversible id of the token ("sha256:…"), safe to log.
	Fingerprint string `mapstructure:"fingerprint"`
	// True when allow_shorter accepted a token that expires before
	// min_validity because the upstream was unavailable.
	ShorterThanRequested bool `mapstructure:"shorter_than_requested"`
}

// Datasource implements the Packer SDK's packer.Datasource.
type Datasource struct {
	config      Config
	minValidity time.Duration

	// conn opens the tokenkeeper client; the zero value dials the agent or
	// launches the helper. Tests set it to hand-written fakes.
	conn connector
	// log receives the data source's and the helper's log lines; nil means
	// stderr, which Packer keeps in its log (PACKER_LOG=1), not in the
	// build's output.
	log hclog.Logger
}

// ConfigSpec is the HCL2 layout of the data source block.
func (d *Datasource) ConfigSpec() hcldec.ObjectSpec {
	return d.config.FlatMapstructure().HCL2Spec()
}

// OutputSpec is the HCL2 layout of the outputs, used by Packer to check
// references before executing the data source.
func (d *Datasource) OutputSpec() hcldec.ObjectSpec {
	return (&DatasourceOutput{}).FlatMapstructure().HCL2Spec()
}

// Configure decodes and validates the block. It runs on `packer validate`
// too, so it checks everything that can be checked without tokenkeeper.
func (d *Datasource) Configure(raws ...interface{}) error {
	if err := config.Decode(&d.config, nil, raws...); err != nil {
		return err
	}
	var errs []error
	if d.config.Profile == "" {
		errs = append(errs, errors.New(`tokenkeeper: "profile" is required: name a profile from the tokenkeeper profiles file, e.g. profile = "sddc"`))
	}
	d.minValidity = 0
	if s := d.config.MinValidity; s != "" {
		v, err := time.ParseDuration(s)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf(`tokenkeeper: "min_validity" %q is not a duration (use e.g. "45m" or "1h30m")`, s))
		case v < 0:
			errs = append(errs, fmt.Errorf(`tokenkeeper: "min_validity" %q must not be negative`, s))
		default:
			d.minValidity = v
		}
	}
	if d.config.HelperPath == "" {
		d.config.HelperPath = DefaultHelper
	}
	return errors.Join(errs...)
}

// Execute gets the token. Packer calls it once per build (and on
// `packer validate -evaluate-datasources`).
func (d *Datasource) Execute() (cty.Value, error) {
	ctx, cancel := context.WithTimeout(context.Background(), executeTimeout)
	defer cancel()
	out, err := d.fetch(ctx)
	if err != nil {
		return cty.NullVal(cty.EmptyObject), err
	}
	return hcl2helper.HCL2ValueFromConfig(out, d.OutputSpec()), nil
}

func (d *Datasource) fetch(ctx context.Context) (DatasourceOutput, error) {
	logger := d.logger()
	tok, viaAgent, err := d.token(ctx, logger, false)
	if viaAgent && errors.Is(err, host.ErrNoAgent) {
		// The agent retired (the profiles file changed) and none took
		// over: as when no agent runs, the helper serves this call.
		logger.Info("the tokenkeeper agent went away; launching the helper", "reason", err)
		tok, viaAgent, err = d.token(ctx, logger, true)
	}
	if err != nil {
		return DatasourceOutput{}, err
	}
	logger.Info("got token", "profile", tok.Profile, "fingerprint", tok.Fingerprint, "expires_at", tok.ExpiresAt.UTC().Format(time.RFC3339), "agent", viaAgent)
	if product, ok := sessionProducts[tok.Provider]; ok && !viaAgent {
		return DatasourceOutput{}, errSessionEndsWithChild(d.config.Profile, product)
	}
	if tok.ShorterThanRequested {
		logger.Warn("the upstream is unavailable: the token expires before min_validity (allow_shorter)",
			"profile", tok.Profile, "fingerprint", tok.Fingerprint, "expires_at", tok.ExpiresAt.UTC().Format(time.RFC3339),
			"min_validity", d.minValidity)
	}
	return outputFrom(tok), nil
}

// token opens a client (the helper, if noAgent) and gets the token.
func (d *Datasource) token(ctx context.Context, logger hclog.Logger, noAgent bool) (*host.Token, bool, error) {
	var c tokenClient
	viaAgent := false
	var err error
	if noAgent {
		c, err = d.conn.launchHelper(ctx, d.config, logger)
	} else {
		c, viaAgent, err = d.conn.open(ctx, d.config, logger)
	}
	if err != nil {
		return nil, false, fmt.Errorf("tokenkeeper: %w", err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			logger.Warn("could not close the tokenkeeper client", "error", err)
		}
	}()
	tok, err := c.Token(ctx, d.config.Profile, host.TokenOptions{MinValidity: d.minValidity, AllowShorter: d.config.AllowShorter})
	if err != nil {
		// err already names the operation, profile and helper's message.
		return nil, viaAgent, fmt.Errorf("tokenkeeper: %w", err)
	}
	return tok, viaAgent, nil
}

// sessionProducts maps the providers (host.Token.Provider) whose token is
// a session that logout ends to the product's name: Cloud Director and
// vCenter.
var sessionProducts = map[string]string{"vcd": "Cloud Director", "vcenter": "vCenter"}

// errSessionEndsWithChild refuses to hand out a token that is dead on
// arrival: a launched tokenkeeper revokes what it holds when it exits (right
// after this call), and for a session (Cloud Director, vCenter) that logs
// it out. VCF access tokens survive the revocation of their refresh token.
func errSessionEndsWithChild(profile, product string) error {
	return fmt.Errorf("tokenkeeper: profile %q is a %s profile: its session would be logged out "+
		"when the tokenkeeper launched for this call exits; start the agent first so the session outlives "+
		"the data source (run `tokenkeeper agent` in the background, or any `tokenkeeper get --profile %s`)", profile, product, profile)
}

// outputFrom is the one place a token's secrets leave their wrappers: Packer
// needs them as plain strings in the template.
func outputFrom(t *host.Token) DatasourceOutput {
	return DatasourceOutput{
		Token:       t.Access.Reveal(),
		HeaderName:  t.HeaderName,
		HeaderValue: t.HeaderValue.Reveal(),
		ExpiresAt:   t.ExpiresAt.UTC().Format(time.RFC3339),
		Fingerprint: t.Fingerprint,

		ShorterThanRequested: t.ShorterThanRequested,
	}
}

func (d *Datasource) logger() hclog.Logger {
	if d.log != nil {
		return d.log
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:   "tokenkeeper",
		Output: os.Stderr,
		Level:  hclog.Info,
	})
}
