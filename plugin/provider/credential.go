package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// CredentialID is what a provider's Credential returns for the login
// material parts (username and password, or a token): the SHA-256 of the
// parts joined by NUL, in hex, wrapped in a Secret. The keeper compares it
// with Equal to tell whether the secret source changed. It is a Secret,
// never logged (not even its Fingerprint), because an unsalted fast hash
// of a low-entropy password lets whoever reads it test guesses offline.
func CredentialID(parts ...string) secret.Secret {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return secret.New(hex.EncodeToString(sum[:]))
}
