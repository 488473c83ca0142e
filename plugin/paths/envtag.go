package paths

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
)

// KeyFile is the random key, in the runtime directory, that makes an
// environment tag (EnvTag) a keyed hash: the tag in a file name can then
// not be tested offline against guessed passwords. Callers that load the
// configuration create it (TagOf); hosts only read it (SeenTag).
const KeyFile = "agent.key"

// KeySize is the length of the key in KeyFile.
const KeySize = 32

// tagBytes is the length of a tag before hex encoding: 64 bits keep the
// socket path short and make a collision between two environments of one
// user practically impossible.
const tagBytes = 8

// maxNamesFile bounds what ReadEnvNames reads: a list of variable names.
const maxNamesFile = 64 << 10

// EnvTag is a caller's view of the environment variables a configuration
// reads ({env: …} secrets): HMAC-SHA256 with key over every name, in name
// order without duplicates, and its value or an "unset" marker, as lookup
// sees them; hex, 16 digits. No names is "".
func EnvTag(key []byte, names []string, lookup func(string) (string, bool)) string {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if len(names) == 0 {
		return ""
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
	return hex.EncodeToString(m.Sum(nil)[:tagBytes])
}

// writeField writes s length-prefixed, so no two lists encode alike.
func writeField(w io.Writer, s string) {
	_, _ = w.Write(binary.AppendUvarint(nil, uint64(len(s))))
	_, _ = io.WriteString(w, s)
}

// ReadKey reads the key dir/KeyFile, never creating it: a missing key
// is an error wrapping os.ErrNotExist. A key that is a symlink, not this
// user's, readable by others or not KeySize bytes long is refused.
func ReadKey(dir *Dir) ([]byte, error) {
	k, err := dir.ReadFile(KeyFile, KeySize)
	if err != nil {
		return nil, err
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("%s is not a %d-byte key: delete it", dir.Join(KeyFile), KeySize)
	}
	return k, nil
}

// FormatEnvNames is the content of an agent's names file (Agent.Names):
// the names, sorted without duplicates, one a line; nil for none.
func FormatEnvNames(names []string) []byte {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if len(names) == 0 {
		return nil
	}
	return []byte(strings.Join(names, "\n") + "\n")
}

// ReadEnvNames reads the names file of p (p.Names, written from
// FormatEnvNames). A missing file is an error wrapping os.ErrNotExist.
func ReadEnvNames(p Agent) ([]string, error) {
	data, err := p.Dir.ReadFile(filepath.Base(p.Names), maxNamesFile)
	if err != nil {
		return nil, err
	}
	var names []string
	for l := range strings.Lines(string(data)) {
		if n := strings.TrimSpace(l); n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// SeenTag is the tag (see Agent) of the agent serving configPath for a
// caller whose environment lookup gives, for a caller that does not load
// the configuration (a Go host): the agents' names file (written by every
// agent of a configuration that reads variables) says which variables
// count, the key in dir makes them a tag. With no names file or no key it
// is "", the agent of a configuration reading no variable. The CLI, which
// loads the configuration, computes the same tag with TagOf.
func SeenTag(dir *Dir, configPath string, lookup func(string) (string, bool)) (string, error) {
	p, err := Locate(dir, configPath, "")
	if err != nil {
		return "", err
	}
	names, err := ReadEnvNames(p)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(names) == 0 {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	key, err := ReadKey(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return EnvTag(key, names, lookup), nil
}

// TagOf is the tag (see Agent) of a caller that has loaded the
// configuration: EnvTag over the variables names it reads, as lookup
// sees them, with the key in dir/KeyFile, created on first use. No names
// is "" and needs no key.
func TagOf(dir *Dir, names []string, lookup func(string) (string, bool)) (string, error) {
	if len(names) == 0 {
		return "", nil
	}
	key, err := loadKey(dir)
	if err != nil {
		return "", err
	}
	return EnvTag(key, names, lookup), nil
}

// loadKey reads the key in dir, creating it when missing. A new key is
// written in full to a temporary file and linked into place, which fails
// when another process got there first: every caller ends up with the
// same, complete key.
func loadKey(dir *Dir) ([]byte, error) {
	for range 3 {
		k, err := ReadKey(dir)
		if !errors.Is(err, os.ErrNotExist) {
			return k, err
		}
		if err := createKey(dir); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	return ReadKey(dir)
}

func createKey(dir *Dir) error {
	k := make([]byte, KeySize)
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
