package vcd

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// urnSpace derives stable ids from names.
var urnSpace = uuid.MustParse("6f1e3c52-5d0e-4c47-9d7b-3b6f0c0a7d11")

func orgID(org string) string {
	return uuid.NewSHA1(urnSpace, []byte("org:"+strings.ToLower(org))).String()
}

func userID(u *User) string {
	return uuid.NewSHA1(urnSpace, []byte("user:"+strings.ToLower(u.Principal()))).String()
}

type ref struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// sessionJSON is the CloudAPI session body. The idle timeout is reported
// in minutes, fractional when the simulator runs with a sub-minute
// timeout (real servers only configure whole minutes).
func (b *Backend) sessionJSON(s *session, r *http.Request) map[string]any {
	return map[string]any{
		"id":                        "urn:vcloud:session:" + s.id,
		"site":                      ref{Name: r.Host, ID: "urn:vcloud:site:" + orgID("site")},
		"user":                      ref{Name: s.user.Name, ID: "urn:vcloud:user:" + userID(s.user)},
		"org":                       ref{Name: s.user.Org, ID: "urn:vcloud:org:" + orgID(s.user.Org)},
		"location":                  "urn:vcloud:location:" + orgID("site"),
		"roles":                     []string{s.user.Role},
		"roleRefs":                  []ref{{Name: s.user.Role, ID: "urn:vcloud:role:" + orgID("role:"+s.user.Role)}},
		"sessionIdleTimeoutMinutes": b.opts.IdleTimeout.Minutes(),
	}
}

type xmlLink struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
	Type string `xml:"type,attr,omitempty"`
	Name string `xml:"name,attr,omitempty"`
}

type xmlSession struct {
	XMLName xml.Name  `xml:"http://www.vmware.com/vcloud/v1.5 Session"`
	Org     string    `xml:"org,attr"`
	User    string    `xml:"user,attr"`
	UserID  string    `xml:"userId,attr"`
	Roles   string    `xml:"roles,attr"`
	Href    string    `xml:"href,attr"`
	Type    string    `xml:"type,attr"`
	Links   []xmlLink `xml:"Link"`
}

func sessionXML(s *session, r *http.Request) xmlSession {
	base := baseURL(r)
	return xmlSession{
		Org: s.user.Org, User: s.user.Name, UserID: "urn:vcloud:user:" + userID(s.user), Roles: s.user.Role,
		Href: base + "/api/session/", Type: "application/vnd.vmware.vcloud.session+xml",
		Links: []xmlLink{
			{Rel: "down", Href: base + "/api/org/", Type: "application/vnd.vmware.vcloud.orgList+xml"},
			{Rel: "remove", Href: base + "/api/session"},
		},
	}
}

// orgsVisible lists the orgs a session may see: all for System users.
func (b *Backend) orgsVisible(s *session) []string {
	if !s.user.IsProvider() {
		return []string{s.user.Org}
	}
	var orgs []string
	for _, u := range b.opts.Users {
		if !slices.ContainsFunc(orgs, func(o string) bool { return strings.EqualFold(o, u.Org) }) {
			orgs = append(orgs, u.Org)
		}
	}
	slices.Sort(orgs)
	return orgs
}

type xmlOrgList struct {
	XMLName xml.Name  `xml:"http://www.vmware.com/vcloud/v1.5 OrgList"`
	Href    string    `xml:"href,attr"`
	Type    string    `xml:"type,attr"`
	Orgs    []xmlLink `xml:"Org"`
}

// apiOrgs is GET /api/org, the XML API's protected org list.
func (b *Backend) apiOrgs(w http.ResponseWriter, r *http.Request) {
	s, ok := b.protected(w, r, false)
	if !ok {
		return
	}
	base := baseURL(r)
	list := xmlOrgList{Href: base + "/api/org/", Type: "application/vnd.vmware.vcloud.orgList+xml"}
	for _, o := range b.orgsVisible(s) {
		list.Orgs = append(list.Orgs, xmlLink{Href: base + "/api/org/" + orgID(o), Name: o,
			Type: "application/vnd.vmware.vcloud.org+xml"})
	}
	writeXML(w, http.StatusOK, "application/vnd.vmware.vcloud.orgList+xml;version="+acceptVersion(r), list)
}

// cloudOrgs is GET /cloudapi/1.0.0/orgs, the CloudAPI's protected list.
func (b *Backend) cloudOrgs(w http.ResponseWriter, r *http.Request) {
	s, ok := b.protected(w, r, true)
	if !ok {
		return
	}
	orgs := b.orgsVisible(s)
	values := make([]map[string]any, 0, len(orgs))
	for _, o := range orgs {
		values = append(values, map[string]any{"id": "urn:vcloud:org:" + orgID(o), "name": o, "displayName": o,
			"isEnabled": true})
	}
	writeJSON(w, http.StatusOK, map[string]any{"resultTotal": len(values), "pageCount": 1, "page": 1,
		"pageSize": 25, "values": values})
}

type xmlError struct {
	XMLName        xml.Name `xml:"http://www.vmware.com/vcloud/v1.5 Error"`
	MajorErrorCode string   `xml:"majorErrorCode,attr"`
	MinorErrorCode string   `xml:"minorErrorCode,attr"`
	Message        string   `xml:"message,attr"`
}

// writeError answers a Cloud Director error: CloudAPI JSON
// {minorErrorCode, message, stackTrace} or the XML Error element.
func (b *Backend) writeError(w http.ResponseWriter, asJSON bool, status int, minor, msg string) {
	if asJSON {
		writeJSON(w, status, map[string]string{"minorErrorCode": minor, "message": msg, "stackTrace": ""})
		return
	}
	top := b.versions.sorted[len(b.versions.sorted)-1]
	writeXML(w, status, "application/vnd.vmware.vcloud.error+xml;version="+top,
		xmlError{MajorErrorCode: strconv.Itoa(status), MinorErrorCode: minor, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeXML(w http.ResponseWriter, status int, contentType string, v any) {
	out, _ := xml.Marshal(v)
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}
