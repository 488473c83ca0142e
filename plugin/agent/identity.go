package agent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/tokenkeeper/tokenkeeper/plugin/paths"
)

// KeyFile is the random key, in the runtime directory, that makes an
// environment tag (EnvTag) a keyed hash: the tag in a file name can then
// not be tested offline against guessed passwords.
const KeyFile = "agent.key"

const keySize = 32

// tagBytes is the length of a tag before hex encoding: 64 bits keep the
// socket path short and make a collision between two environments of one
// user practically impossible.
const tagBytes = 8

// EnvTag is the caller's view of the environment variables a
// configuration reads ({env: …} secrets): HMAC-SHA256 with the key in
// dir/KeyFile (created on first use) over every name, in name order, and
// its value or an "unset" marker, as lookup sees them; hex, 16 digits.
// Callers whose views differ reach different agents, so an agent never
// serves a caller with a value the caller no longer has. No names is ""
// and needs no key.
func EnvTag(dir string, names []string, lookup func(string) (string, bool)) (string, error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if len(names) == 0 {
		return "", nil
	}
	key, err := loadKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	for _, n := range names {
		v, set := lookup(n)
		writeField(m, n)
		if set {
			_, _ = m.Write([]byte{1})
			writeField(m, v)
		} else {
			_, _ = m.Write([]byte{0})
		}
	}
	return hex.EncodeToString(m.Sum(nil)[:tagBytes]), nil
}

// writeField writes s length-prefixed, so no two lists encode alike.
func writeField(w io.Writer, s string) {
	_, _ = w.Write(binary.AppendUvarint(nil, uint64(len(s))))
	_, _ = io.WriteString(w, s)
}

// loadKey reads the key at path, creating it when missing. A new key is
// written in full to a temporary file and linked into place, which fails
// when another process got there first: every caller ends up with the
// same, complete key.
func loadKey(path string) ([]byte, error) {
	for range 3 {
		k, err := readKey(path)
		if !errors.Is(err, os.ErrNotExist) {
			return k, err
		}
		if err := createKey(path); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	return readKey(path)
}

func readKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("could not inspect agent key: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is not a private file of this user: %w", path, ErrInsecureDir)
	}
	k := make([]byte, keySize+1)
	n, err := io.ReadFull(f, k)
	if n != keySize || !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%s is not a %d-byte key: delete it", path, keySize)
	}
	return k[:keySize], nil
}

func createKey(path string) error {
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("could not make agent key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".agent.key-*")
	if err != nil {
		return fmt.Errorf("could not write agent key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(k)
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("could not write agent key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err // os.ErrExist: another process made it first
	}
	return nil
}

// PathsVariant names the files of the agent serving configPath for
// callers whose environment tag (EnvTag) is tag.
func PathsVariant(dir, configPath, tag string) (Paths, error) {
	return paths.AgentVariant(dir, configPath, tag)
}

// Tags lists the environment tags of every agent of configPath whose
// socket exists in dir, sorted ("" first): the agents PathsAll names.
func Tags(dir, configPath string) ([]string, error) { return paths.AgentVariants(dir, configPath) }

// PathsAll names the files of every agent of configPath whose socket
// exists in dir, whatever its environment tag.
func PathsAll(dir, configPath string) ([]Paths, error) {
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
