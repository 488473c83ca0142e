package agent

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// KeyFile is the random key, in the runtime directory, that makes an
// environment tag (EnvTag) a keyed hash (see paths.KeyFile).
const KeyFile = paths.KeyFile

// EnvTag is the caller's view of the environment variables a
// configuration reads ({env: …} secrets): paths.EnvTag with the key in
// dir/KeyFile, created on first use. Callers whose views differ reach
// different agents, so an agent never serves a caller with a value the
// caller no longer has. No names is "" and needs no key.
func EnvTag(dir *paths.Dir, names []string, lookup func(string) (string, bool)) (string, error) {
	if len(names) == 0 {
		return "", nil
	}
	key, err := loadKey(dir)
	if err != nil {
		return "", err
	}
	return paths.EnvTag(key, names, lookup), nil
}

// WriteEnvNames records, in p.Names, the environment variables the
// configuration reads — names, never values — so that Go hosts, which do
// not load the configuration, can compute their tag (paths.AgentSeenBy).
// No names removes the file: such a configuration has only the untagged
// agent.
func WriteEnvNames(p Paths, names []string) error {
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

// loadKey reads the key in dir, creating it when missing. A new key is
// written in full to a temporary file and linked into place, which fails
// when another process got there first: every caller ends up with the
// same, complete key.
func loadKey(dir *paths.Dir) ([]byte, error) {
	for range 3 {
		k, err := paths.ReadKey(dir)
		if !errors.Is(err, os.ErrNotExist) {
			return k, err
		}
		if err := createKey(dir); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	return paths.ReadKey(dir)
}

func createKey(dir *paths.Dir) error {
	k := make([]byte, paths.KeySize)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("could not make agent key: %w", err)
	}
	tmp, f, err := dir.CreateTemp(KeyFile)
	if err != nil {
		return fmt.Errorf("could not write agent key: %w", err)
	}
	defer func() { _ = dir.Remove(tmp) }()
	_, err = f.Write(k)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("could not write agent key: %w", err)
	}
	if err := dir.Link(tmp, KeyFile); err != nil {
		return err // os.ErrExist: another process made it first
	}
	return nil
}

// PathsVariant names the files of the agent serving configPath for
// callers whose environment tag (EnvTag) is tag.
func PathsVariant(dir *paths.Dir, configPath, tag string) (Paths, error) {
	return paths.AgentVariant(dir, configPath, tag)
}

// Tags lists the environment tags of every agent of configPath whose
// socket exists in dir, sorted ("" first): the agents PathsAll names.
func Tags(dir *paths.Dir, configPath string) ([]string, error) {
	return paths.AgentVariants(dir, configPath)
}

// PathsAll names the files of every agent of configPath whose socket
// exists in dir, whatever its environment tag.
func PathsAll(dir *paths.Dir, configPath string) ([]Paths, error) {
	tags, err := paths.AgentVariants(dir, configPath)
	if err != nil {
		return nil, err
	}
	out := make([]Paths, 0, len(tags))
	for _, t := range tags {
		p, err := paths.AgentVariant(dir, configPath, t)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// tokenVars are set by `tokenkeeper exec` for its command: a `get` run
// inside it must not hand the token to an agent (and every secret command
// the agent runs) for the agent's whole life.
var tokenVars = []string{"TOKENKEEPER_TOKEN", "TOKENKEEPER_HEADER_NAME", "TOKENKEEPER_HEADER_VALUE", "TOKENKEEPER_EXPIRES_AT"}

// Environ returns environ without the variables `tokenkeeper exec` sets
// for its command (TOKENKEEPER_TOKEN, TOKENKEEPER_HEADER_VALUE, …): the
// environment an agent gets, and the one its environment tag is made of.
func Environ(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(tokenVars, name) {
			out = append(out, kv)
		}
	}
	return out
}

// TokenVars lists the variables Environ removes.
func TokenVars() []string { return slices.Clone(tokenVars) }

// Lookup is os.LookupEnv over environ (the last of duplicates wins, as in
// os/exec).
func Lookup(environ []string) func(string) (string, bool) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if name, v, ok := strings.Cut(kv, "="); ok {
			m[name] = v
		}
	}
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}
