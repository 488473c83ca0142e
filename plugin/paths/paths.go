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

// Agent is the one answer to "which agent serves me": the agent of one
// profiles file (Config) for one view of the environment variables its
// {env: …} secrets read (Tag), and its files in the runtime directory.
// One agent serves one configuration file: the names carry a hash of its
// absolute path, so `get --config a.yaml` and `get --config b.yaml` each
// find (or start) their own agent instead of asking one for profiles it
// does not know. Callers whose environments give those variables
// different values each have their own agent, told apart by the tag
// (TagOf, SeenTag): a caller never gets a token made from a value it no
// longer has. Locate is its only constructor.
type Agent struct {
	// Dir is the open runtime directory the files are in: every file is
	// opened relative to it (see Dir), by base name; the paths below are
	// for messages and for dialing the socket.
	Dir *Dir
	// Config is the absolute path of the profiles file the agent serves.
	Config string
	// Tag is a keyed hash of the values of the variables the
	// configuration reads (lower-case hex), "" for one that reads none.
	Tag    string
	Socket string // the unix socket of the TokenService (gRPC)
	// Exec is the unix socket of the exec protocol: one TokenRequest or
	// InvalidateRequest document in, the Token or Error document that
	// `tokenkeeper get --format json` prints out (agentconn.Call). A
	// sibling of Socket, so that neither protocol has to sniff the other.
	Exec  string
	Spawn string // lock held by a client while it starts the agent
	Run   string // lock held by the agent for its whole life
	Log   string // stderr of a detached agent
	// Names lists the environment variables the configuration reads
	// (FormatEnvNames), one file shared by every agent of the
	// configuration: hosts that do not load the configuration read it to
	// find their agent (SeenTag).
	Names string
}

// Locate names the agent serving configPath (made absolute) for the tag
// tag in the runtime directory dir: "" for the agent of a configuration
// that reads no variable, else the caller's TagOf or SeenTag.
func Locate(dir *Dir, configPath, tag string) (Agent, error) {
	if !isTag(tag) {
		return Agent{}, fmt.Errorf("invalid agent tag %q: want lower-case hex", tag)
	}
	abs, err := filepath.Abs(configPath)
	if err != nil {
		return Agent{}, fmt.Errorf("could not resolve config path: %w", err)
	}
	base := filepath.Join(dir.Path(), configBase(abs))
	names := base + ".env"
	if tag != "" {
		base += "-" + tag
	}
	return Agent{
		Dir:    dir,
		Config: abs,
		Tag:    tag,
		Socket: base + ".sock",
		Exec:   base + ".exec",
		Spawn:  base + ".spawn.lock",
		Run:    base + ".run.lock",
		Log:    base + ".log",
		Names:  names,
	}, nil
}

// isTag: tag is "" or lower-case hex.
func isTag(tag string) bool { return strings.Trim(tag, "0123456789abcdef") == "" }

// configBase is the start of the file names of every agent of the
// configuration file abs.
func configBase(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	return AgentPrefix + hex.EncodeToString(sum[:6])
}

// Agents are the agents of configPath whose socket file exists in dir,
// whatever their tag, in tag order ("" first): every agent that may serve
// the file, for `agent stop` and `status`.
func Agents(dir *Dir, configPath string) ([]Agent, error) {
	abs, err := filepath.Abs(configPath)
	if err != nil {
		return nil, fmt.Errorf("could not resolve config path: %w", err)
	}
	base := configBase(abs)
	names, err := dir.Names()
	if err != nil {
		return nil, fmt.Errorf("could not list runtime directory: %w", err)
	}
	var tags []string
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, base)
		if !ok || !strings.HasSuffix(rest, ".sock") {
			continue
		}
		rest = strings.TrimSuffix(rest, ".sock")
		if v, ok := strings.CutPrefix(rest, "-"); rest == "" || ok && v != "" && isTag(v) {
			tags = append(tags, v)
		}
	}
	slices.Sort(tags) // "" first
	out := make([]Agent, 0, len(tags))
	for _, t := range tags {
		a, err := Locate(dir, abs, t)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// AgentSockets lists the sockets of every agent in dir, whatever its
// configuration file, sorted: `agent stop --all`.
func AgentSockets(dir *Dir) ([]string, error) {
	names, err := dir.Names()
	if err != nil {
		return nil, fmt.Errorf("could not list runtime directory: %w", err)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, AgentPrefix) && strings.HasSuffix(n, ".sock") {
			out = append(out, dir.Join(n))
		}
	}
	return out, nil
}

// AgentPrefix starts the name of every file of an agent in the runtime
// directory: agent-<hash of the configuration path>[-<tag>].<kind>.
const AgentPrefix = "agent-"
