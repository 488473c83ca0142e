package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// canary stands for a password written where it must not be; no error
// message may contain it.
const canary = "canary-Pa55w0rd-7f3a"

// fixture is a directory with the files the YAML fixtures refer to as
// $DIR/…: ca.pem (a real certificate), not-pem.txt, secret (0600),
// loose-secret (0644).
type fixture struct{ dir string }

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", selfSignedPEM(t), 0o644)
	write("not-pem.txt", "hello\n", 0o644)
	write("secret", canary+"\n", 0o600)
	write("loose-secret", canary+"\n", 0o644)
	return fixture{dir: dir}
}

// path is where the fixture's config file lives (it need not exist).
func (f fixture) path() string { return filepath.Join(f.dir, "config.yaml") }

// parse parses lines (joined with newlines, $DIR replaced), so line n of
// the YAML is lines[n-1].
func (f fixture) parse(lines ...string) (*Config, error) {
	y := strings.ReplaceAll(strings.Join(lines, "\n")+"\n", "$DIR", f.dir)
	return Parse([]byte(y), f.path())
}

func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// allErrors unpacks the errors.Join of *Error that Parse returns.
func allErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	out := make([]*Error, 0, len(errs))
	for _, e := range errs {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q is not a *config.Error", e)
		}
		out = append(out, ce)
	}
	return out
}

// noCanary fails the test if err's message holds the canary.
func noCanary(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Fatalf("an error message leaks the secret literal (message length %d)", len(err.Error()))
	}
}
