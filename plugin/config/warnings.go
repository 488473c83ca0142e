package config

import (
	"cmp"
	"net/url"
	"slices"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// Warnings returns what the file allows but should not be left that way:
// a profile with insecure_skip_verify on, a secret reference to an
// environment variable whose name is not upper case (it could be the
// password itself, so messages never show it). Each is one line formatted
// like an *Error, e.g.
//
//	config.yaml:9:5: profile "lab": field "insecure_skip_verify": is on: TLS certificates are not verified …
//
// sorted by position. None contains a secret. Programs should print them
// on stderr (prefixed "warning: ") each time they load the file; Parse
// and Load do not print anything.
func (c *Config) Warnings() []string {
	var all []*Error
	for _, p := range c.Profiles {
		all = append(all, p.warnings()...)
	}
	return format(all)
}

// format sorts warnings by position, then profile and field, and formats
// them.
func format(ws []*Error) []string {
	slices.SortStableFunc(ws, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Profile, b.Profile), cmp.Compare(a.Field, b.Field))
	})
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Error()
	}
	return out
}

func (p *Profile) warnings() []*Error {
	v := &validator{p: p}
	if p.InsecureSkipVerify {
		if u, err := url.Parse(p.URL); err == nil && u.Scheme == "http" {
			v.at("insecure_skip_verify", "has no effect: the url uses http, without TLS")
		} else {
			v.at("insecure_skip_verify", "is on: TLS certificates are not verified, so anyone on the network path "+
				"can pose as the server and receive the credentials; set ca_file to the server's CA bundle instead")
		}
	}
	for _, r := range p.refs() {
		if r.ref != nil && r.ref.Env != "" && !secret.IsConventionalEnvName(r.ref.Env) {
			v.at(r.field, "the environment variable name is not upper case, so it is never shown in messages "+
				"(in case it is the secret itself, written in the wrong place); name the variable like VCF_PASSWORD")
		}
	}
	return v.errs
}

// ref is a secret reference with the field it was given in.
type ref struct {
	field string
	ref   *secret.Ref
}

// refs returns the profile's secret references, set or not.
func (p *Profile) refs() []ref {
	return []ref{{"password", p.Password}, {"api_key", p.APIKey}, {"api_token", p.APIToken}, {"service_account", p.ServiceAccount}}
}
