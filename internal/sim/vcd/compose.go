package vcd

import (
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// authorRoles may create vApps: the predefined roles from vApp Author up.
// The others (vApp User, Console Access Only, Defer to Identity Provider)
// only use what exists.
var authorRoles = []string{"vApp Author", "Catalog Author", "Organization Administrator", "System Administrator"}

type xmlVApp struct {
	XMLName xml.Name `xml:"http://www.vmware.com/vcloud/v1.5 VApp"`
	Name    string   `xml:"name,attr"`
	ID      string   `xml:"id,attr"`
	Status  int      `xml:"status,attr"`
	Href    string   `xml:"href,attr"`
	Type    string   `xml:"type,attr"`
}

// composeVApp is POST /api/vdc/{vdc}/action/composeVApp, the simulator's
// resource that needs an authoring role (the OPERATOR tier): a session
// whose role only uses vApps is refused with 403, as Cloud Director
// refuses a right the role lacks. The session itself stays valid.
func (b *Backend) composeVApp(w http.ResponseWriter, r *http.Request) {
	s, ok := b.protected(w, r, false)
	if !ok {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	if !slices.ContainsFunc(authorRoles, func(a string) bool { return strings.EqualFold(a, s.user.Role) }) {
		b.writeError(w, false, http.StatusForbidden, "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
			"Either you need some or all of the following rights [vApp: Create / Reconfigure a vApp] to perform operations [composeVApp] or the target entity is invalid")
		return
	}
	id := uuid.NewString()
	writeXML(w, http.StatusCreated, "application/vnd.vmware.vcloud.vApp+xml;version="+acceptVersion(r), xmlVApp{
		Name: "composed-" + id[:8], ID: "urn:vcloud:vapp:" + id, Status: 0,
		Href: baseURL(r) + "/api/vApp/vapp-" + id, Type: "application/vnd.vmware.vcloud.vApp+xml",
	})
}
