//go:build unix

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

const loadYAML = `profiles:
  sddc:
    provider: vcf
    url: https://sddc.example.com
    api_key: {env: VCF_API_KEY}
`

// otherUID owns the files of the ownership tests: nobody on most systems.
const otherUID = 65534

// writeConfig writes content to dir/config.yaml with exactly mode.
func writeConfig(t *testing.T, dir, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// privateDir returns a fresh directory only its owner may write.
func privateDir(t *testing.T, mode os.FileMode) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cfg")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chownOther gives path to otherUID; only root can, so others skip.
func chownOther(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("not root (uid %d): cannot give a file to uid %d to test the ownership check", os.Geteuid(), otherUID)
	}
	if err := os.Lchown(path, otherUID, -1); err != nil {
		t.Fatal(err)
	}
}

// wantInsecure asserts err refuses path for insecure permissions and
// says msg.
func wantInsecure(t *testing.T, err error, path string, msg ...string) {
	t.Helper()
	if !errors.Is(err, secret.ErrInsecurePermissions) {
		t.Fatalf("got %v, want an error wrapping secret.ErrInsecurePermissions", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.File != path {
		t.Fatalf("error %q is not a *config.Error for %s", err, path)
	}
	for _, m := range msg {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not say %q", err, m)
		}
	}
}

func TestLoadFileMode(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		want []string // nil: loads
	}{
		{0o600, nil},
		{0o644, nil}, // the file holds no secret: reading it is fine
		{0o400, nil},
		{0o666, []string{"mode 0666 lets group and others change it", "refusing a profiles file that others could change"}},
		{0o664, []string{"mode 0664 lets group change it"}},
		{0o646, []string{"mode 0646 lets others change it"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			p := writeConfig(t, privateDir(t, 0o755), loadYAML, tt.mode)
			cfg, err := Load(p)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("mode %04o refused: %v", tt.mode, err)
				}
				if cfg.Profiles["sddc"] == nil {
					t.Fatal("profile sddc missing")
				}
				return
			}
			if cfg != nil {
				t.Error("a Config came back with the error")
			}
			wantInsecure(t, err, p, append(tt.want, "run `chmod go-w "+p+"`")...)
		})
	}
}

func TestLoadFileOwner(t *testing.T) {
	p := writeConfig(t, privateDir(t, 0o755), loadYAML, 0o644)
	chownOther(t, p)
	_, err := Load(p)
	wantInsecure(t, err, p, "owned by uid 65534, not by you (uid 0) or root", "sudo chown 0 "+p)
}

func TestLoadDirectory(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
		want string // "": loads
	}{
		{"private", 0o700, ""},
		{"readable", 0o755, ""},
		{"sticky world-writable", 0o777 | os.ModeSticky, ""},
		{"world-writable", 0o777, "has mode 0777: group and others can replace the files in it"},
		{"group-writable", 0o770, "has mode 0770: group can replace the files in it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := privateDir(t, tt.mode)
			p := writeConfig(t, dir, loadYAML, 0o600)
			_, err := Load(p)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("directory mode %v refused: %v", tt.mode, err)
				}
				return
			}
			wantInsecure(t, err, p, "directory "+dir+" "+tt.want, "run `chmod go-w "+dir+"`")
		})
	}
}

func TestLoadDirectoryOwner(t *testing.T) {
	dir := privateDir(t, 0o755)
	p := writeConfig(t, dir, loadYAML, 0o600)
	chownOther(t, dir)
	_, err := Load(p)
	wantInsecure(t, err, p, "directory "+dir+" is owned by uid 65534")
}

func TestLoadCAFilePermissions(t *testing.T) {
	f := newFixture(t)
	ca := filepath.Join(f.dir, "ca.pem")
	yaml := loadYAML + "    ca_file: ca.pem\n"
	if _, err := f.parse(yaml); err != nil {
		t.Fatalf("a 0644 CA bundle was refused: %v", err)
	}
	if err := os.Chmod(ca, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := f.parse(yaml)
	if !errors.Is(err, secret.ErrInsecurePermissions) {
		t.Fatalf("a world-writable CA bundle: got %v, want ErrInsecurePermissions", err)
	}
	assertErrors(t, err, []want{{6, "sddc", "ca_file", "refusing a CA bundle that others could change"}})
	if !strings.Contains(err.Error(), "chmod go-w "+ca) {
		t.Errorf("error %q does not say what to run", err)
	}
	if err := os.Chmod(ca, 0o644); err != nil {
		t.Fatal(err)
	}
	chownOther(t, ca)
	_, err = f.parse(yaml)
	if !errors.Is(err, secret.ErrInsecurePermissions) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("a CA bundle of uid %d: got %v, want ErrInsecurePermissions", otherUID, err)
	}
}
