package main

import (
	"flag"
	"fmt"
	"net/http"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcf"
)

// defaultServiceUser owns an --api-token given without :USER.
const defaultServiceUser = "svc-automation"

func init() {
	roles := make([]string, len(vcf.Roles))
	for i, r := range vcf.Roles {
		roles[i] = string(r)
	}
	register(Simulator{
		Name:    "vcf",
		Summary: "VCF SDDC Manager: POST /v1/tokens, token refresh and revoke, GET/POST /v1/domains",
		Roles:   roles,
		Setup:   setupVCF,
	})
}

func setupVCF(fs *flag.FlagSet) func(Common) (sim.Backend, error) {
	var o vcf.Options
	fs.IntVar(&o.LoginStatus, "login-status", http.StatusCreated, "status of a successful POST /v1/tokens (200 or 201)")
	fs.IntVar(&o.BadCredentialsStatus, "bad-credentials-status", http.StatusBadRequest, "status for a wrong password (400 or 401)")
	fs.IntVar(&o.LockedStatus, "locked-status", http.StatusBadRequest, "status for a login to a locked account (400 or 401)")
	fs.BoolVar(&o.QuotedRefreshResponse, "quoted-refresh", false, "answer a refresh with a JSON string instead of the raw JWT")
	fs.BoolVar(&o.RefreshTokenAsString, "refresh-token-string", false, `answer a login with "refreshToken":"<id>" instead of {"id":…}`)
	exempt := fs.String("lockout-exempt", "", "a user that never locks (SSO exempts administrator@vsphere.local)")
	return func(c Common) (sim.Backend, error) {
		for _, st := range []int{o.LoginStatus, o.BadCredentialsStatus, o.LockedStatus} {
			if st < 200 || st > 599 {
				return nil, fmt.Errorf("status %d is not an HTTP status", st)
			}
		}
		if len(c.Users) == 0 && len(c.APITokens) == 0 {
			return nil, fmt.Errorf("give at least one --user NAME=PASSWORD[:ROLE] or --api-token KEY[:USER]")
		}
		if len(c.ServiceAccounts) > 0 {
			return nil, fmt.Errorf("--service-account is a Cloud Director feature; use --api-token for VCF service users")
		}
		o.Clock = sim.SystemClock{}
		o.AccessTTL, o.RefreshTTL = c.AccessTTL, c.RefreshTTL
		o.Users = map[string]vcf.User{}
		for _, u := range c.Users {
			o.Users[u.Name] = vcf.User{Password: u.Password, Role: vcf.Role(u.Role)}
		}
		o.APIKeys = map[string]string{}
		for _, t := range c.APITokens {
			user := t.User
			if user == "" {
				user = defaultServiceUser
			}
			o.APIKeys[t.Token] = user
		}
		if *exempt != "" {
			o.LockoutExempt = []string{*exempt}
		}
		return vcf.New(o)
	}
}
