package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcd"
)

// vcdSimulator is the Cloud Director subcommand.
func vcdSimulator() Simulator {
	return Simulator{
		Name:     "vcd",
		Summary:  "VMware Cloud Director: /api/versions, CloudAPI and legacy sessions, API tokens, service accounts",
		UserName: "user@org",
		Roles:    vcd.Roles,
		RoleNote: " (default Organization Administrator; System Administrator for org System, the provider)",
		NotApplicable: map[string]string{
			"access-ttl":  "Cloud Director sessions end after --idle-timeout without use, or after --absolute-timeout",
			"refresh-ttl": "Cloud Director sessions end after --idle-timeout without use, or after --absolute-timeout",
		},
		TokenOwnerNote: "without an owner it belongs to the first --user",
		DemoUsers: []UserSpec{
			{Name: "admin@System", Role: "System Administrator"},
			{Name: "alice@ExampleOrg", Role: "Organization Administrator"},
		},
		Setup: setupVCD,
	}
}

// setupVCD registers the Cloud Director flags. Users are user@org
// (org System for provider users); tokens name their owner the same way.
func setupVCD(fs *flag.FlagSet) func(Common) (sim.Backend, error) {
	versions := fs.String("api-versions", "", "supported API versions, comma-separated, e.g. 30.0,31.0,32.0 (overrides --product; the older half is listed deprecated)")
	product := fs.String("product", vcd.DefaultProduct, "simulated release (9.5, 9.7, 10.0 … 10.6): sets the API versions")
	absolute := fs.Duration("absolute-timeout", 24*time.Hour, "session lifetime cap whatever its use (the JWT exp)")
	blockProvider := fs.Bool("block-provider-legacy-login", false, "refuse System users on POST /api/sessions (401)")
	return func(c Common) (sim.Backend, error) {
		o := vcd.Options{Clock: sim.SystemClock{}, IdleTimeout: c.IdleTimeout, AbsoluteTimeout: *absolute,
			BlockProviderLegacyLogin: *blockProvider}
		var err error
		if *versions != "" {
			o.APIVersions, err = vcd.ParseVersions(*versions)
		} else {
			o.APIVersions, err = vcd.ProductVersions(*product)
		}
		if err != nil {
			return nil, err
		}
		if *absolute <= 0 {
			return nil, fmt.Errorf("--absolute-timeout must be positive")
		}
		if o.Users, err = vcdUsers(c.Users); err != nil {
			return nil, err
		}
		if o.APITokens, err = vcdGrants(c.APITokens, o.Users, "--api-token"); err != nil {
			return nil, err
		}
		if o.ServiceAccounts, err = vcdGrants(c.ServiceAccounts, o.Users, "--service-account"); err != nil {
			return nil, err
		}
		if len(o.Users)+len(o.APITokens)+len(o.ServiceAccounts) == 0 {
			return nil, fmt.Errorf("give at least one --user user@org=PASSWORD[:ROLE], --api-token or --service-account TOKEN:user@org")
		}
		return vcd.New(o)
	}
}

// vcdUsers turns --user specs into Cloud Director users (NAME is user@org).
func vcdUsers(specs []UserSpec) ([]vcd.User, error) {
	users := make([]vcd.User, 0, len(specs))
	for _, s := range specs {
		u, err := vcd.ParseUser(s.Name + "=x")
		if err != nil {
			return nil, fmt.Errorf("--user %s: the name must be user@org (org System for provider users)", s.Name)
		}
		u.Password = s.Password
		if s.Role != "" {
			u.Role = s.Role
		}
		users = append(users, u)
	}
	return users, nil
}

// vcdGrants turns token specs into grants; a token without an owner
// belongs to the first --user.
func vcdGrants(specs []TokenSpec, users []vcd.User, flagName string) ([]vcd.Grant, error) {
	var grants []vcd.Grant
	for _, s := range specs {
		owner := s.User
		if owner == "" {
			if len(users) == 0 {
				return nil, fmt.Errorf("%s needs an owner: TOKEN:user@org", flagName)
			}
			owner = users[0].Principal()
		}
		g, err := vcd.ParseGrant(s.Token + ":" + owner)
		if err != nil {
			return nil, fmt.Errorf("%s: the owner must be user@org", flagName)
		}
		grants = append(grants, g)
	}
	return grants, nil
}
