// Package secret holds credentials and tokens so that they cannot leak by
// accident, and resolves the references in the profiles file (env, file,
// command) into them.
package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// redacted is what every formatting path prints instead of the value.
const redacted = "[REDACTED]"

// Secret wraps a password, token or refresh id. Every way Go, slog, hclog
// and encoders have to print a value prints "[REDACTED]"; the raw value
// comes out only through Reveal. The zero value is an empty secret.
type Secret struct {
	// v is unexported so reflection-based printers (%+v, hclog JSON,
	// encoding/json on a containing struct) cannot reach it.
	v string
}

// New wraps a raw value.
func New(v string) Secret { return Secret{v: v} }

// Reveal returns the raw value. Call it only where the value must leave the
// process: an HTTP header, a gRPC response, exec stdout.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.v == o.v }

// Fingerprint returns a short non-reversible id of the value,
// "sha256:" followed by the first 16 hex digits of its SHA-256, or "" for
// an empty secret. It is safe to log.
func (s Secret) Fingerprint() string {
	if s.v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s.v))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, used by %#v.
func (s Secret) GoString() string { return redacted }

// Format handles every fmt verb, including %x and %q which otherwise
// bypass String for string-kinded values.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML, hclog, text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
