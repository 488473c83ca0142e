package config

import (
	"fmt"
	"strings"
)

// Methods only the tests use: the package reaches profiles through
// Config.Profiles, validates them in Parse and warns per file.

// Profile returns the named profile, or an error wrapping
// ErrUnknownProfile that lists the known names.
func (c *Config) Profile(name string) (*Profile, error) {
	if p, ok := c.Profiles[name]; ok {
		return p, nil
	}
	where := ""
	if c.Path != "" {
		where = " in " + c.Path
	}
	if len(c.Profiles) == 0 {
		return nil, fmt.Errorf("%w %q: no profiles are defined%s", ErrUnknownProfile, name, where)
	}
	return nil, fmt.Errorf("%w %q%s; known profiles: %s", ErrUnknownProfile, name, where, strings.Join(c.Names(), ", "))
}

// Validate checks the rules that span fields: required fields per
// provider, URL scheme, the CA file, which credentials go together, and
// that a service-account file can be written back. It reports every
// problem, joined, as *Error values. Parse calls it; call it yourself on a
// Profile built in code.
func (p *Profile) Validate() error { return joinErrors(p.validate()) }

// Warnings returns the warnings of this profile alone; see
// Config.Warnings.
func (p *Profile) Warnings() []string { return format(p.warnings()) }
