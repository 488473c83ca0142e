package vcd

import (
	"encoding/json"
	"encoding/xml"
	"strings"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// sessionIdentity is who a CloudAPI session body says the session is:
// user, org and roles. roleRefs names the same roles; it is read when
// roles is absent.
type sessionIdentity struct {
	User struct {
		Name string `json:"name"`
	} `json:"user"`
	Org struct {
		Name string `json:"name"`
	} `json:"org"`
	Roles    []string `json:"roles"`
	RoleRefs []struct {
		Name string `json:"name"`
	} `json:"roleRefs"`
}

// withIdentity fills g's principal (user@org; a System-org session is a
// provider session) and roles from a CloudAPI session body. A body that
// does not say leaves g as it is.
func withIdentity(g provider.Grant, body []byte) provider.Grant {
	var s sessionIdentity
	if json.Unmarshal(body, &s) != nil {
		return g
	}
	if s.User.Name != "" && s.Org.Name != "" {
		g.Principal = s.User.Name + "@" + s.Org.Name
	}
	roles := s.Roles
	if len(roles) == 0 {
		for _, r := range s.RoleRefs {
			if r.Name != "" {
				roles = append(roles, r.Name)
			}
		}
	}
	if len(roles) > 0 {
		g.Roles = roles
	}
	return g
}

// hasIdentity reports whether g already knows its principal and roles.
func hasIdentity(g provider.Grant) bool { return g.Principal != "" && len(g.Roles) > 0 }

// legacySession is the part of the XML Session of POST /api/sessions that
// names the session: org, user and a comma-separated roles attribute.
type legacySession struct {
	Org   string `xml:"org,attr"`
	User  string `xml:"user,attr"`
	Roles string `xml:"roles,attr"`
}

// withLegacyIdentity fills g's principal and roles from a legacy Session
// body, for servers without CloudAPI to ask (before 10.0).
func withLegacyIdentity(g provider.Grant, body []byte) provider.Grant {
	var s legacySession
	if xml.Unmarshal(body, &s) != nil {
		return g
	}
	if s.User != "" && s.Org != "" {
		g.Principal = s.User + "@" + s.Org
	}
	for _, r := range strings.Split(s.Roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			g.Roles = append(g.Roles, r)
		}
	}
	return g
}
