package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// SecretKind classifies a secret that could not be read: ErrBadConfig (a
// person must fix the reference), unless its source says it is
// unavailable or refused the read — a sealed or unreachable Vault, a
// Vault policy without read — with ErrUnavailable or ErrForbidden, which
// then decide the exit code (5 retryable, 4 denied).
func SecretKind(err error) error {
	for _, k := range []error{ErrUnavailable, ErrForbidden} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrBadConfig
}
