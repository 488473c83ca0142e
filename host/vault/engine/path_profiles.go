package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

const profileHelpSynopsis = "Manage the profiles whose tokens the engine keeps."

const profileHelpDescription = `
A profile names one upstream account: provider (vcf for SDDC Manager, vcd
for Cloud Director), url, an optional CA (ca_pem), and exactly one login
secret: password (with username), api_key (vcf), api_token or
service_account (vcd). Secrets are write-only: a read returns which kind is
set (credential), never its value. Writing a profile revokes the tokens the
engine held for it; the next token read logs in with the new settings.
Deleting a profile revokes its tokens upstream.
`

// secretFields are the write-only login secrets, by credential kind.
var secretFields = []string{credPassword, credAPIKey, credAPIToken, credServiceAccount}

func profileFields() map[string]*framework.FieldSchema {
	str := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeString, Description: desc}
	}
	sensitive := func(desc string) *framework.FieldSchema {
		f := str(desc + " Write-only.")
		f.DisplayAttrs = &framework.DisplayAttributes{Sensitive: true}
		return f
	}
	return map[string]*framework.FieldSchema{
		"name":        {Type: framework.TypeString, Description: "Name of the profile.", Required: true},
		"provider":    {Type: framework.TypeString, Description: "Upstream protocol: vcf (SDDC Manager) or vcd (Cloud Director).", AllowedValues: []any{providerVCF, providerVCD}},
		"url":         str("Base URL of the upstream, e.g. https://sddc-manager.example.com."),
		"ca_pem":      str("PEM bundle trusted in addition to the system roots."),
		"username":    str("User to log in as (with password); user name without @org for vcd."),
		"org":         str(`Cloud Director organization; "System" selects the provider login.`),
		"api_version": str("Cloud Director API version to pin; default: the highest non-deprecated one the server offers."),
		"refresh_before": {Type: framework.TypeDurationSecond,
			Description: "Refresh this long before the access token expires (default: at about two thirds of its life)."},
		credPassword:       sensitive("Password of username."),
		credAPIKey:         sensitive("SDDC Manager service user API key."),
		credAPIToken:       sensitive("Cloud Director user API token."),
		credServiceAccount: sensitive("Cloud Director service-account refresh token; the engine stores each rotated one."),
	}
}

func profilePaths(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern: "profiles/?$",
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.listProfiles},
			},
			HelpSynopsis:    "List the profiles.",
			HelpDescription: "The names of the configured profiles.",
		},
		{
			Pattern:        "profiles/" + framework.GenericNameRegex("name"),
			Fields:         profileFields(),
			ExistenceCheck: b.profileExists,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.CreateOperation: &framework.PathOperation{Callback: b.writeProfile},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.writeProfile},
				logical.ReadOperation:   &framework.PathOperation{Callback: b.readProfile},
				logical.DeleteOperation: &framework.PathOperation{Callback: b.deleteProfile},
			},
			HelpSynopsis:    profileHelpSynopsis,
			HelpDescription: strings.TrimSpace(profileHelpDescription),
		},
	}
}

func (b *backend) profileExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	_, err := loadConfig(ctx, req.Storage, d.Get("name").(string))
	if errors.Is(err, errNoProfile) {
		return false, nil
	}
	return err == nil, err
}

func (b *backend) listProfiles(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := req.Storage.List(ctx, profilePrefix)
	if err != nil {
		return nil, err
	}
	return logical.ListResponse(names), nil
}

func (b *backend) readProfile(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	c, err := loadConfig(ctx, req.Storage, d.Get("name").(string))
	if errors.Is(err, errNoProfile) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data := map[string]any{
		"provider": c.Provider, "url": c.URL, "ca_pem": c.CAPEM, "username": c.Username,
		"org": c.Org, "api_version": c.APIVersion, "refresh_before": int64(c.RefreshBefore.Seconds()),
		"credential": c.Credential,
	}
	return &logical.Response{Data: data}, nil
}

// writeProfile creates or updates a profile: the fields given replace
// the stored ones, a secret given replaces the stored secret (of any
// kind). The profile's keeper is closed, revoking what it held, so the
// next read logs in with what was written.
func (b *backend) writeProfile(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	c, err := loadConfig(ctx, req.Storage, name)
	if err != nil && !errors.Is(err, errNoProfile) {
		return nil, err
	}
	applyFields(&c, d)
	kind, value, err := givenSecret(d)
	if err != nil {
		return nil, badRequest(err)
	}
	if kind != "" {
		c.Credential = kind
	}
	if err := b.checkProfile(name, c); err != nil {
		return nil, badRequest(err)
	}
	if kind != "" {
		if err := storeSecret(ctx, req.Storage, name, value); err != nil {
			return nil, err
		}
	}
	if err := putJSON(ctx, req.Storage, profilePrefix+name, c); err != nil {
		return nil, err
	}
	if err := b.drop(ctx, name); err != nil {
		return &logical.Response{Warnings: []string{"the tokens held for the old settings could not all be revoked upstream: " + err.Error()}}, nil
	}
	return nil, nil
}

func applyFields(c *profileConfig, d *framework.FieldData) {
	for key, dst := range map[string]*string{
		"provider": &c.Provider, "url": &c.URL, "ca_pem": &c.CAPEM, "username": &c.Username,
		"org": &c.Org, "api_version": &c.APIVersion,
	} {
		if v, ok := d.GetOk(key); ok {
			*dst = strings.TrimSpace(v.(string))
		}
	}
	if v, ok := d.GetOk("refresh_before"); ok {
		c.RefreshBefore = secondsOf(v.(int))
	}
}

// givenSecret is the one login secret a write carries, if any.
func givenSecret(d *framework.FieldData) (kind string, v secret.Secret, err error) {
	for _, f := range secretFields {
		s, ok := d.GetOk(f)
		if !ok || s.(string) == "" {
			continue
		}
		if kind != "" {
			return "", secret.Secret{}, fmt.Errorf("give one login secret, not both %s and %s", kind, f)
		}
		kind, v = f, secret.New(s.(string))
	}
	return kind, v, nil
}

// credentialsOf are the login secrets each provider accepts.
var credentialsOf = map[string][]string{
	providerVCF: {credPassword, credAPIKey},
	providerVCD: {credPassword, credAPIToken, credServiceAccount},
}

// checkProfile refuses a profile that could not log in as written; the
// providers check URL, org and username themselves, offline.
func (b *backend) checkProfile(name string, c profileConfig) error {
	kinds, ok := credentialsOf[c.Provider]
	switch {
	case !ok:
		return fmt.Errorf("provider must be %s or %s", providerVCF, providerVCD)
	case c.Credential == "":
		return fmt.Errorf("a login secret is required: one of %s", strings.Join(kinds, ", "))
	case !slices.Contains(kinds, c.Credential):
		return fmt.Errorf("provider %s takes one of %s, not %s", c.Provider, strings.Join(kinds, ", "), c.Credential)
	}
	_, err := b.provider(name, c)
	return err
}

func (b *backend) deleteProfile(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	for _, key := range []string{profilePrefix + name, secretPrefix + name} {
		if err := req.Storage.Delete(ctx, key); err != nil {
			return nil, err
		}
	}
	if err := b.drop(ctx, name); err != nil {
		return &logical.Response{Warnings: []string{"the profile's tokens could not all be revoked upstream: " + err.Error()}}, nil
	}
	return nil, nil
}

func badRequest(err error) error { return logical.CodedError(http.StatusBadRequest, err.Error()) }
