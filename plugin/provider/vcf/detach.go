package vcf

import (
	"context"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// Detach ends g's future without ending its present: it deletes the
// refresh token (as Revoke does), while the access token, which SDDC
// Manager cannot revoke, stays valid until its exp. This is what a one-shot
// `get --no-agent` leaves behind (keeper.Detacher).
func (p *Provider) Detach(ctx context.Context, g provider.Grant) error {
	return p.Revoke(ctx, g)
}
