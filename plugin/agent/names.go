package agent

import (
	"fmt"
	"path/filepath"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// WriteEnvNames records, in p.Names, the environment variables the
// configuration reads — names, never values — so that callers that do not
// load the configuration (Go hosts, the lean front binary) can compute
// their tag (paths.SeenTag, agentconn.LocateFromNames). No names writes
// an empty file: such a configuration has only the untagged agent, and
// the file's modification time still tells the front that an agent
// started after the configuration last changed — so the agent writes it
// again when the configuration is rewritten with the same bytes, which
// keeps it serving (config.Watch.OnRewrite).
func WriteEnvNames(p paths.Agent, names []string) error {
	data := paths.FormatEnvNames(names)
	if err := p.Dir.WriteAtomic(filepath.Base(p.Names), data, 0o600); err != nil {
		return fmt.Errorf("could not write the agent's names file: %w", err)
	}
	return nil
}
