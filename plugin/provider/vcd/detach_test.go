package vcd

import (
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/keeper"
)

// Cloud Director can revoke a grant only by logging its session out,
// which ends the access token a one-shot `get --no-agent` just printed.
// So the provider is deliberately not a keeper.Detacher: Keeper.Detach
// only forgets a vcd profile and leaves the session to its idle timeout.
func TestNotADetacher(t *testing.T) {
	var p any = (*Provider)(nil)
	if _, ok := p.(keeper.Detacher); ok {
		t.Fatal("vcd.Provider implements keeper.Detacher: a Detach would end the handed-out session")
	}
}
