package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// WriteEnvNames records, in p.Names, the environment variables the
// configuration reads — names, never values — so that Go hosts, which do
// not load the configuration, can compute their tag (paths.SeenTag).
// No names removes the file: such a configuration has only the untagged
// agent.
func WriteEnvNames(p paths.Agent, names []string) error {
	data := paths.FormatEnvNames(names)
	if data == nil {
		if err := p.Dir.Remove(filepath.Base(p.Names)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("could not remove the agent's names file: %w", err)
		}
		return nil
	}
	if err := p.Dir.WriteAtomic(filepath.Base(p.Names), data, 0o600); err != nil {
		return fmt.Errorf("could not write the agent's names file: %w", err)
	}
	return nil
}
