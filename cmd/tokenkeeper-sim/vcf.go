package main

import (
	"flag"
	"net/http"

	"github.com/tokenkeeper/tokenkeeper/internal/sim"
	"github.com/tokenkeeper/tokenkeeper/internal/sim/vcf"
)

// defaultServiceUser owns an --api-token given without :USER.
const defaultServiceUser = "svc-automation"

// vcfSimulator is the SDDC Manager subcommand.
func vcfSimulator() Simulator {
	roles := make([]string, len(vcf.Roles))
	for i, r := range vcf.Roles {
		roles[i] = string(r)
	}
	return Simulator{
		Name:     "vcf",
		Summary:  "VCF SDDC Manager: POST /v1/tokens, token refresh and revoke, GET/POST /v1/domains",
		UserName: "USER",
		Roles:    roles,
		RoleNote: " (default ADMIN)",
		NotApplicable: map[string]string{
			"idle-timeout":    "SDDC Manager tokens end after --access-ttl and --refresh-ttl, not when idle",
			"service-account": "it is a Cloud Director feature; use --api-token KEY[:USER] for VCF service users",
		},
		TokenOwnerNote: "a service user's key for {\"apiKey\":…} logins; USER defaults to " + defaultServiceUser,
		DemoUsers:      []UserSpec{{Name: "admin@vsphere.local", Role: string(vcf.RoleAdmin)}},
		Setup:          setupVCF,
	}
}

func setupVCF(fs *flag.FlagSet) func(Common) (sim.Backend, error) {
	var o vcf.Options
	fs.Var(newIntChoice(&o.LoginStatus, "login-status", http.StatusCreated, 200, 201),
		"login-status", "status of a successful POST /v1/tokens: `200|201`")
	fs.Var(newIntChoice(&o.BadCredentialsStatus, "bad-credentials-status", http.StatusBadRequest, 400, 401),
		"bad-credentials-status", "status for a wrong password: `400|401`")
	fs.Var(newIntChoice(&o.LockedStatus, "locked-status", http.StatusBadRequest, 400, 401),
		"locked-status", "status for a login to a locked account: `400|401`")
	fs.BoolVar(&o.QuotedRefreshResponse, "quoted-refresh", false, "answer a refresh with a JSON string instead of the raw JWT")
	fs.BoolVar(&o.RefreshTokenAsString, "refresh-token-string", false, `answer a login with "refreshToken":"<id>" instead of {"id":…}`)
	exempt := fs.String("lockout-exempt", "", "a `USER` that never locks (SSO exempts administrator@vsphere.local)")
	return func(c Common) (sim.Backend, error) {
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
