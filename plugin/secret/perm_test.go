//go:build unix

package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// otherUID owns the files of the ownership tests: nobody on most systems.
const otherUID = 65534

// chownOther gives path to otherUID; only root can, so other users skip
// the test.
func chownOther(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("not root (uid %d): cannot give a file to uid %d to test the ownership check", os.Geteuid(), otherUID)
	}
	if err := os.Lchown(path, otherUID, -1); err != nil {
		t.Fatal(err)
	}
}

// mkdir creates dir with exactly mode (after the umask).
func mkdir(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestResolveFileRefusesWritableByOthers(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		mode os.FileMode
		want []string
	}{
		{0o622, []string{"0622", "group and others change it", "chmod 600"}},
		{0o620, []string{"0620", "group change it"}},
		{0o602, []string{"0602", "others change it"}},
		{0o660, []string{"0660", "read and change"}},
		{0o200, nil}, // write-only for the owner is odd but not insecure
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			p := writeFile(t, dir, "s"+tt.mode.String(), canary, tt.mode)
			_, err := Ref{File: p}.Resolve(t.Context())
			if tt.want == nil {
				if errors.Is(err, ErrInsecurePermissions) {
					t.Fatalf("mode %04o refused: %v", tt.mode, err)
				}
				return
			}
			checkErr(t, err, ErrInsecurePermissions, append(tt.want, "file "+p)...)
		})
	}
}

func TestResolveFileRefusesForeignOwner(t *testing.T) {
	p := writeFile(t, t.TempDir(), "s", canary, 0o600)
	chownOther(t, p)
	_, err := Ref{File: p}.Resolve(t.Context())
	checkErr(t, err, ErrInsecurePermissions, "owned by uid 65534", "not by you (uid 0) or root", "sudo chown 0 "+p)
	if err := (Ref{File: p}).CheckWritable(); !errors.Is(err, ErrInsecurePermissions) {
		t.Fatalf("CheckWritable of a file owned by uid %d: got %v, want ErrInsecurePermissions", otherUID, err)
	}
}

func TestCheckTrustedFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		mode os.FileMode
		want string // "" = accepted
	}{
		{0o600, ""},
		{0o644, ""}, // readable is fine: the profiles file holds no secret
		{0o444, ""},
		{0o664, "mode 0664 lets group change it; run `chmod go-w "},
		{0o646, "mode 0646 lets others change it"},
		{0o666, "group and others"},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			p := writeFile(t, dir, "c"+tt.mode.String(), "x", tt.mode)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckTrustedFile(p, fi)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("mode %04o: %v", tt.mode, err)
				}
				return
			}
			if !errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("mode %04o: got %v, want ErrInsecurePermissions saying %q", tt.mode, err, tt.want)
			}
			if !strings.Contains(err.Error(), "chmod go-w "+p+"`") {
				t.Errorf("%q does not say to run chmod go-w on the file", err)
			}
		})
	}
}

func TestCheckTrustedFileOwner(t *testing.T) {
	p := writeFile(t, t.TempDir(), "c", "x", 0o644)
	chownOther(t, p)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckTrustedFile(p, fi)
	if !errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("got %v, want ErrInsecurePermissions naming the owner", err)
	}
}

func TestCheckTrustedDirs(t *testing.T) {
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	open := mkdir(t, filepath.Join(base, "open"), 0o777)
	group := mkdir(t, filepath.Join(base, "group"), 0o775)
	sticky := mkdir(t, filepath.Join(base, "sticky"), 0o777|os.ModeSticky)
	safe := mkdir(t, filepath.Join(base, "safe"), 0o755)
	nested := mkdir(t, filepath.Join(open, "private"), 0o700)
	link := filepath.Join(safe, "link.yaml")
	if err := os.Symlink(writeFile(t, open, "real.yaml", "x", 0o644), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       string // "" = accepted
	}{
		{"private dir", filepath.Join(safe, "c.yaml"), ""},
		{"sticky world-writable dir", filepath.Join(sticky, "c.yaml"), ""},
		{"world-writable dir", filepath.Join(open, "c.yaml"), "directory " + open + " has mode 0777: group and others can replace"},
		{"group-writable dir", filepath.Join(group, "c.yaml"), "mode 0775: group can replace"},
		{"world-writable grandparent", filepath.Join(nested, "c.yaml"), "directory " + open + " "},
		{"symlink into a world-writable dir", link, "directory " + open + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTrustedDirs(tt.path)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrInsecurePermissions saying %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "run `chmod go-w "+open+"`") && !strings.Contains(err.Error(), "chmod go-w "+group) {
				t.Errorf("%q does not say what to run", err)
			}
		})
	}
}

func TestCheckTrustedDirsOwner(t *testing.T) {
	dir := mkdir(t, filepath.Join(t.TempDir(), "theirs"), 0o755)
	chownOther(t, dir)
	err := CheckTrustedDirs(filepath.Join(dir, "c.yaml"))
	if !errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), "directory "+dir+" is owned by uid 65534") {
		t.Fatalf("got %v, want ErrInsecurePermissions naming the directory's owner", err)
	}
}

func TestEnvNames(t *testing.T) {
	lookup := func(string) (string, bool) { return canary, true }
	tests := []struct {
		name       string
		valid      bool
		wantString string
	}{
		{"VCF_PASSWORD", true, "env VCF_PASSWORD"},
		{"_X1", true, "env _X1"},
		{"vcf_password", true, "env (name not shown"},
		{"Summer2024", true, "env (name not shown"},
		{canary, false, "env (name not shown"},
		{"1PASSWORD", false, "env (name not shown"},
		{"A B", false, "env (name not shown"},
		{"A=B", false, "env (name not shown"},
	}
	for _, tt := range tests {
		t.Run(tt.wantString, func(t *testing.T) {
			r := Ref{Env: tt.name}
			if got := r.String(); !strings.HasPrefix(got, tt.wantString) {
				t.Errorf("String() = %q, want it to start with %q", got, tt.wantString)
			}
			if strings.Contains(tt.wantString, "not shown") && strings.Contains(r.String(), tt.name) {
				t.Errorf("String() = %q shows the name", r.String())
			}
			_, err := r.ResolveWith(t.Context(), lookup)
			if tt.valid {
				checkErr(t, err, nil)
				return
			}
			checkErr(t, err, ErrInvalidRef, "not an environment variable name")
			if strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %q echoes the invalid name", err)
			}
		})
	}
}

func TestCommandProgramMustBeTrusted(t *testing.T) {
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	safe := mkdir(t, filepath.Join(base, "safe"), 0o755)
	open := mkdir(t, filepath.Join(base, "open"), 0o777)
	script := "#!/bin/sh\necho " + canary + "\n"
	tests := []struct {
		name string
		prog string
		want string // "": runs
	}{
		{"private script", writeFile(t, safe, "ok.sh", script, 0o755), ""},
		{"world-writable script", writeFile(t, safe, "open.sh", script, 0o777), "mode 0777 lets group and others change it"},
		{"group-writable script", writeFile(t, safe, "group.sh", script, 0o775), "mode 0775 lets group change it"},
		{"script in a world-writable dir", writeFile(t, open, "ok.sh", script, 0o755), "directory " + open + " has mode 0777"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Ref{Command: []string{tt.prog}}.Resolve(t.Context())
			if tt.want == "" {
				checkErr(t, err, nil)
				if got.Reveal() != canary {
					t.Fatal("the script's output was not the value")
				}
				return
			}
			checkErr(t, err, ErrInsecurePermissions, "command "+tt.prog+": program: ", tt.want)
		})
	}
}
