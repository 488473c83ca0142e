package secret

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"
)

// Sentinels for classifying resolution failures with errors.Is. They are
// always wrapped in *Error, which names the reference.
var (
	// ErrNotFound: the environment variable is unset or the file is missing.
	ErrNotFound = errors.New("not found")
	// ErrEmpty: the source exists but yields an empty value.
	ErrEmpty = errors.New("empty value")
	// ErrInsecurePermissions: the file is readable or writable by group or
	// others, or owned by someone other than the current user or root; or
	// a directory above a file that must be trusted is open to others.
	ErrInsecurePermissions = errors.New("insecure permissions")
	// ErrCommandFailed: the command could not start, exited non-zero or
	// timed out. The command's output is never part of the error.
	ErrCommandFailed = errors.New("command failed")
	// ErrInvalidRef: the reference does not name exactly one source.
	ErrInvalidRef = errors.New("invalid secret reference")
)

// DefaultCommandTimeout bounds a command reference without its own Timeout.
const DefaultCommandTimeout = 10 * time.Second

// maxValueSize bounds what a file or command may yield; a secret is a
// password or token, never megabytes.
const maxValueSize = 1 << 20

// Error is a failure to resolve or store a secret. Its message names the
// reference (String of the Ref) and never the value.
type Error struct {
	// Ref describes the reference, e.g. "env VCF_PASSWORD" or "file /run/x".
	Ref string
	// Err is the cause; it wraps one of the sentinels of this package or an
	// fs error.
	Err error
}

// Error implements error.
func (e *Error) Error() string { return "secret " + e.Ref + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Ref is a secret reference from the profiles file: exactly one of Env,
// File, Command, Vault. Timeout bounds Command (default
// DefaultCommandTimeout).
type Ref struct {
	// Env names an environment variable holding the value. It must be a
	// POSIX name (letters, digits and _, not starting with a digit); only
	// an upper-case name is shown in messages (see IsConventionalEnvName).
	Env string
	// File is the path of a file holding the value (one trailing newline
	// is trimmed). It must not be readable by group or others.
	File string
	// Command is a program and its arguments; its stdout (one trailing
	// newline trimmed) is the value. No shell is involved.
	Command []string
	// Timeout bounds Command; zero means DefaultCommandTimeout.
	Timeout time.Duration
	// Scrub names environment variables a Command does not inherit: the
	// {env: …} secrets of the configuration (the other profiles'
	// passwords), which a helper such as `pass` or `vault` never needs.
	// The rest of the environment (PATH, HOME, VAULT_ADDR, GNUPGHOME, …)
	// is passed on. Whoever builds the keeper sets it.
	Scrub []string
	// Vault names a field of a secret in HashiCorp Vault.
	Vault *VaultRef
}

// VaultRef is a {vault: {path, field}} reference.
type VaultRef struct {
	// Path is the logical path read, e.g. secret/data/vmware/sddc.
	Path string
	// Field is the key of the value in the secret's data.
	Field string
	// Conn names the Vault connection the configuration gives this
	// reference ("" for the top-level vault block).
	Conn string
	// Reader reads the field. Whoever builds the keeper sets it, as
	// Scrub; a reference without one fails to resolve.
	Reader FieldReader
}

// FieldReader reads one field of a Vault secret; *vault.Client
// implements it. Its errors name the path and field, never a value.
type FieldReader interface {
	Field(ctx context.Context, path, field string) (Secret, error)
}

// String describes the reference without its value: "env VCF_PASSWORD",
// "file /run/x", "command pass". Command arguments are left out because
// people do put literal secrets there, and so is an environment variable
// name that is not upper case: `{env: Summer2024}` is more likely a
// misplaced password than a variable name.
func (r Ref) String() string {
	switch r.kind() {
	case kindEnv:
		if !IsConventionalEnvName(r.Env) {
			return "env (name not shown: not an upper-case name like VCF_PASSWORD)"
		}
		return "env " + r.Env
	case kindFile:
		return "file " + r.File
	case kindCommand:
		return "command " + r.Command[0]
	case kindVault:
		return "vault " + r.Vault.Path + " field " + r.Vault.Field
	default:
		return "(invalid reference)"
	}
}

type refKind int

const (
	kindInvalid refKind = iota
	kindEnv
	kindFile
	kindCommand
	kindVault
)

// kind reports which single source r names, or kindInvalid.
func (r Ref) kind() refKind {
	n, k := 0, kindInvalid
	if r.Env != "" {
		n, k = n+1, kindEnv
	}
	if r.File != "" {
		n, k = n+1, kindFile
	}
	if len(r.Command) > 0 {
		n, k = n+1, kindCommand
	}
	if r.Vault != nil {
		n, k = n+1, kindVault
	}
	if n != 1 || (k == kindCommand && r.Command[0] == "") || (k == kindVault && (r.Vault.Path == "" || r.Vault.Field == "")) {
		return kindInvalid
	}
	return k
}

// Validate reports whether r names exactly one usable source.
func (r Ref) Validate() error {
	switch {
	case r.kind() == kindInvalid:
		return &Error{Ref: r.String(), Err: fmt.Errorf("%w: set exactly one of env, file, command (with a non-empty program) or vault (with path and field)", ErrInvalidRef)}
	case r.kind() == kindEnv && !IsEnvName(r.Env):
		return &Error{Ref: r.String(), Err: fmt.Errorf("%w: not an environment variable name: "+
			"use letters, digits and _, not starting with a digit", ErrInvalidRef)}
	case r.Timeout < 0:
		return &Error{Ref: r.String(), Err: fmt.Errorf("%w: negative timeout %s", ErrInvalidRef, r.Timeout)}
	case r.Timeout != 0 && r.kind() != kindCommand:
		return &Error{Ref: r.String(), Err: fmt.Errorf("%w: timeout applies only to command references", ErrInvalidRef)}
	}
	return nil
}

// Resolve reads the value from the real environment, file system or
// command. See ResolveWith.
func (r Ref) Resolve(ctx context.Context) (Secret, error) {
	return r.ResolveWith(ctx, os.LookupEnv)
}

// ResolveWith reads the value, looking environment variables up with
// lookupEnv (nil means os.LookupEnv). Every error is a *Error naming the
// reference; an empty value is an error (ErrEmpty) for every source.
func (r Ref) ResolveWith(ctx context.Context, lookupEnv func(string) (string, bool)) (Secret, error) {
	if err := r.Validate(); err != nil {
		return Secret{}, err
	}
	var (
		v   string
		err error
	)
	switch r.kind() {
	case kindEnv:
		v, err = resolveEnv(r.Env, lookupEnv)
	case kindFile:
		v, err = readSecretFile(r.File)
	case kindCommand:
		v, err = runCommand(ctx, r.Command, r.timeout(), r.Scrub)
	case kindVault:
		v, err = r.readVault(ctx)
	}
	if err == nil && v == "" {
		err = ErrEmpty
	}
	if err != nil {
		return Secret{}, &Error{Ref: r.String(), Err: err}
	}
	return New(v), nil
}

var (
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	upperEnvName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// IsEnvName reports whether name is a valid environment variable name in
// the POSIX sense: letters, digits and _, not starting with a digit.
func IsEnvName(name string) bool { return envName.MatchString(name) }

// IsConventionalEnvName reports whether name is an upper-case variable
// name like VCF_PASSWORD. Only such names are shown in messages: a
// mixed-case "name" such as Summer2024 is more likely a password written
// in the wrong place.
func IsConventionalEnvName(name string) bool { return upperEnvName.MatchString(name) }

// ErrNoVault: a vault reference has no reader (the configuration
// names no Vault connection for it).
var ErrNoVault = errors.New("no Vault connection for this reference")

func (r Ref) readVault(ctx context.Context) (string, error) {
	if r.Vault.Reader == nil {
		return "", ErrNoVault
	}
	s, err := r.Vault.Reader.Field(ctx, r.Vault.Path, r.Vault.Field)
	return s.Reveal(), err
}

func (r Ref) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultCommandTimeout
}

func resolveEnv(name string, lookupEnv func(string) (string, bool)) (string, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	v, ok := lookupEnv(name)
	if !ok {
		return "", fmt.Errorf("%w: environment variable is not set", ErrNotFound)
	}
	if v == "" {
		return "", fmt.Errorf("%w: environment variable is set but empty", ErrEmpty)
	}
	return v, nil
}

// readSecretFile checks the mode on the opened descriptor, so the file
// checked is the file read.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: no such file", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("could not open: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("could not stat: %w", err)
	}
	if err := checkMode(path, fi); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxValueSize+1))
	if err != nil {
		return "", fmt.Errorf("could not read: %w", err)
	}
	if len(b) > maxValueSize {
		return "", fmt.Errorf("file is larger than %d bytes", maxValueSize)
	}
	return trimNewline(string(b)), nil
}

// checkMode refuses directories, files readable or writable by group or
// others, and files owned by someone other than the current user or root
// (who could put a password of their choosing there, or read the
// rotated token).
func checkMode(path string, fi os.FileInfo) error {
	if fi.IsDir() {
		return errors.New("is a directory, not a file")
	}
	mask := fs.FileMode(groupOtherRead)
	if _, _, ok := fileOwner(fi); ok {
		mask |= groupOtherWrite
	}
	if perm := fi.Mode().Perm(); perm&mask != 0 {
		return fmt.Errorf("%w: mode %04o lets %s %s it; run `chmod 600 %s`",
			ErrInsecurePermissions, perm, who(perm, mask), access(perm), shellQuote(path))
	}
	if owner, self, ok := fileOwner(fi); ok {
		return checkOwner(path, owner, self)
	}
	return nil
}

// access names what the group and other bits of perm allow.
func access(perm fs.FileMode) string {
	r, w := perm&groupOtherRead != 0, perm&groupOtherWrite != 0
	switch {
	case r && w:
		return "read and change"
	case w:
		return "change"
	default:
		return "read"
	}
}

// trimNewline removes one trailing "\n" or "\r\n", as editors and
// `echo` add it; other whitespace may be part of a password.
func trimNewline(s string) string {
	s, ok := strings.CutSuffix(s, "\n")
	if ok {
		s = strings.TrimSuffix(s, "\r")
	}
	return s
}
