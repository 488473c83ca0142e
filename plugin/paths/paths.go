// Package paths locates tokenkeeper's per-user files — the profiles file,
// the private runtime directory, the socket and locks of the agent serving
// a profiles file — and checks who is at the other end of that socket. It
// imports only the standard library and x/sys, so the CLI, the agent, the
// configuration loader and every Go host derive the same paths from one
// function each, and opens every file in the runtime directory relative to
// a held directory descriptor (Dir), never through a symlink.
package paths

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// ErrInsecureDir: the runtime directory, or a directory on the way to it,
// could be changed by another user (not a directory owned by this uid with
// mode 0700, or a parent someone else can write); tokenkeeper refuses it.
var ErrInsecureDir = errors.New("runtime directory is not private")

// ErrNoConfig: no profiles file can be named, because none of
// TOKENKEEPER_CONFIG, XDG_CONFIG_HOME and HOME is set.
var ErrNoConfig = errors.New("no configuration file: set TOKENKEEPER_CONFIG, XDG_CONFIG_HOME or HOME")

// ConfigFile is the default profiles file: $TOKENKEEPER_CONFIG, else
// $XDG_CONFIG_HOME/tokenkeeper/config.yaml (an absolute XDG_CONFIG_HOME
// only, as the XDG spec says), else ~/.config/tokenkeeper/config.yaml; ""
// when none of them is set.
func ConfigFile(getenv func(string) string) string {
	if p := getenv("TOKENKEEPER_CONFIG"); p != "" {
		return p
	}
	if x := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "tokenkeeper", "config.yaml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "tokenkeeper", "config.yaml")
	}
	return ""
}

// Agent are the files of one agent in the runtime directory. One agent
// serves one configuration file: the names carry a hash of its absolute
// path, so `get --config a.yaml` and `get --config b.yaml` each find (or
// start) their own agent instead of asking one for profiles it does not
// know.
type Agent struct {
	// Dir is the open runtime directory the files are in: every file is
	// opened relative to it (see Dir), by base name; the paths below are
	// for messages and for dialing the socket.
	Dir    *Dir
	Socket string // the unix socket
	Spawn  string // lock held by a client while it starts the agent
	Run    string // lock held by the agent for its whole life
	Log    string // stderr of a detached agent
	// Names lists the environment variables the configuration reads
	// (FormatEnvNames), one file shared by every agent of the
	// configuration: hosts that do not load the configuration read it to
	// find their agent (AgentSeenBy).
	Names string
}

// AgentIn names the files, in the runtime directory dir, of the agent
// serving configPath (made absolute) that reads no environment variable.
func AgentIn(dir *Dir, configPath string) (Agent, error) { return AgentVariant(dir, configPath, "") }

// AgentVariant names the files of one of the agents serving configPath.
// Callers whose environments give different values to the variables the
// configuration reads ({env: …} secrets) each have their own agent, told
// apart by variant: lower-case hex (a keyed hash of those values, see
// EnvTag), or "" for a configuration that reads none — the agent AgentIn
// names. Go hosts find theirs with AgentSeenBy.
func AgentVariant(dir *Dir, configPath, variant string) (Agent, error) {
	if strings.Trim(variant, "0123456789abcdef") != "" {
		return Agent{}, fmt.Errorf("invalid agent variant %q: want lower-case hex", variant)
	}
	abs, err := filepath.Abs(configPath)
	if err != nil {
		return Agent{}, fmt.Errorf("could not resolve config path: %w", err)
	}
	sum := sha256.Sum256([]byte(abs))
	base := filepath.Join(dir.Path(), AgentPrefix+hex.EncodeToString(sum[:6]))
	names := base + ".env"
	if variant != "" {
		base += "-" + variant
	}
	return Agent{
		Dir:    dir,
		Socket: base + ".sock",
		Spawn:  base + ".spawn.lock",
		Run:    base + ".run.lock",
		Log:    base + ".log",
		Names:  names,
	}, nil
}

// AgentVariants lists the variants of the agents of configPath whose
// socket file exists in dir ("" included), sorted: every agent that may
// serve the file, for `agent stop`.
func AgentVariants(dir *Dir, configPath string) ([]string, error) {
	p, err := AgentIn(dir, configPath)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(strings.TrimSuffix(p.Socket, ".sock"))
	names, err := dir.Names()
	if err != nil {
		return nil, fmt.Errorf("could not list runtime directory: %w", err)
	}
	var out []string
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, base)
		if !ok || !strings.HasSuffix(rest, ".sock") {
			continue
		}
		rest = strings.TrimSuffix(rest, ".sock")
		if v, ok := strings.CutPrefix(rest, "-"); rest == "" || ok && v != "" && strings.Trim(v, "0123456789abcdef") == "" {
			out = append(out, v)
		}
	}
	slices.Sort(out) // "" first
	return out, nil
}

// AgentFor names the files of the agent serving configPath in this user's
// runtime directory (OpenRuntimeDir, created when needed); the caller
// closes its Dir. An empty configPath is ErrNoConfig.
func AgentFor(getenv func(string) string, configPath string) (Agent, error) {
	if configPath == "" {
		return Agent{}, ErrNoConfig
	}
	dir, err := OpenRuntimeDir(getenv)
	if err != nil {
		return Agent{}, err
	}
	return AgentIn(dir, configPath)
}

// AgentPrefix starts the name of every file of an agent in the runtime
// directory: agent-<hash of the configuration path>[-<tag>].<kind>.
const AgentPrefix = "agent-"
