package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcenter"
)

// vcenterSimulator is the vCenter subcommand.
func vcenterSimulator() Simulator {
	return Simulator{
		Name:     "vcenter",
		Summary:  "vCenter (vSphere Automation API): POST /api/session or /rest/com/vmware/cis/session, session info, logout, GET /api/vcenter/vm",
		UserName: "NAME",
		Roles:    vcenter.Roles,
		RoleNote: " (default Administrator; NoAccess gets 403 from the inventory)",
		NotApplicable: map[string]string{
			"access-ttl":      "vCenter sessions end after --idle-timeout without use, or after --absolute-timeout",
			"refresh-ttl":     "vCenter sessions end after --idle-timeout without use, or after --absolute-timeout",
			"api-token":       "vCenter API sessions start with a user name and password",
			"service-account": "it is a Cloud Director feature; vCenter API sessions start with a user name and password",
		},
		DemoUsers: []UserSpec{{Name: "administrator@vsphere.local", Role: vcenter.RoleAdministrator}},
		Setup:     setupVCenter,
	}
}

// setupVCenter registers the vCenter flags.
func setupVCenter(fs *flag.FlagSet) func(Common) (sim.Backend, error) {
	version := fs.String("api-version", vcenter.DefaultAPIVersion, "simulated vSphere `RELEASE`, e.g. 8.0.3, 7.0.2 or 6.7; before 7.0.2 there is no /api/session (404), as on older servers")
	legacy := fs.Bool("legacy-rest", false, "serve only /rest/com/vmware/cis/session and /rest/vcenter/vm, as vcsim does (POST /api/session is 404)")
	absolute := fs.Duration("absolute-timeout", 24*time.Hour, "session lifetime cap whatever its use")
	return func(c Common) (sim.Backend, error) {
		if *absolute <= 0 {
			return nil, fmt.Errorf("--absolute-timeout must be positive")
		}
		o := vcenter.Options{Clock: sim.SystemClock{}, APIVersion: *version, LegacyREST: *legacy,
			IdleTimeout: c.IdleTimeout, AbsoluteTimeout: *absolute}
		for _, u := range c.Users {
			o.Users = append(o.Users, vcenter.User{Name: u.Name, Password: u.Password, Role: u.Role})
		}
		return vcenter.New(o)
	}
}
