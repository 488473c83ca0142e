package vcenter

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// withUser fills g's principal from the session info, GET /api/session
// or POST /rest/com/vmware/cis/session?~action=get: {"user": …} (wrapped
// in {"value": …} at /rest). vCenter's session info names the user only,
// not the session's roles, so g.Roles stays empty. A failure to read it
// leaves g as it is: the login stands.
func (p *Provider) withUser(ctx context.Context, g provider.Grant) provider.Grant {
	_, r, err := p.readSession(ctx, g, "read session")
	if err != nil || r.Status != http.StatusOK {
		p.log.Debug("could not read the session info", "error", err)
		return g
	}
	var info struct {
		User  string `json:"user"`
		Value struct {
			User string `json:"user"`
		} `json:"value"`
	}
	if json.Unmarshal(r.Body, &info) == nil {
		g.Principal = info.User
		if g.Meta[metaMode] == modeLegacy {
			g.Principal = info.Value.User
		}
	}
	return g
}
