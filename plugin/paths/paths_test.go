package paths

import (
	"path/filepath"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// openTemp is a new private directory, open.
func openTemp(t *testing.T) *Dir {
	t.Helper()
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestConfigFile(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"TOKENKEEPER_CONFIG": "/etc/tk.yaml", "HOME": "/h"}, "/etc/tk.yaml"},
		{map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/tokenkeeper/config.yaml"},
		{map[string]string{"XDG_CONFIG_HOME": "relative", "HOME": "/h"}, "/h/.config/tokenkeeper/config.yaml"},
		{map[string]string{}, ""},
	}
	for _, tt := range tests {
		if got := ConfigFile(env(tt.env)); got != tt.want {
			t.Errorf("ConfigFile(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// TestLocate: the socket every caller derives is the one the agent
// serving that file listens on, in the private runtime directory.
func TestLocate(t *testing.T) {
	xdg := t.TempDir()
	dir, err := OpenRuntimeDir(env(map[string]string{"XDG_RUNTIME_DIR": xdg}))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	a, err := Locate(dir, "/etc/tk.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Locate(dir, "/etc/../etc/tk.yaml", "")
	if a != want || filepath.Dir(a.Socket) != filepath.Join(xdg, "tokenkeeper") || a.Config != "/etc/tk.yaml" {
		t.Fatalf("Locate = %+v, want %+v", a, want)
	}
}

// TestConfigFileDefaults: moved here with config.DefaultPath, which only
// forwarded to ConfigFile.
func TestConfigFileDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit", map[string]string{"TOKENKEEPER_CONFIG": "/x.yaml", "XDG_CONFIG_HOME": "/xdg", "HOME": "/h"}, "/x.yaml"},
		{"xdg", map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/h"}, "/xdg/tokenkeeper/config.yaml"},
		{"relative xdg ignored", map[string]string{"XDG_CONFIG_HOME": "xdg", "HOME": "/h"}, "/h/.config/tokenkeeper/config.yaml"},
		{"home", map[string]string{"HOME": "/h"}, "/h/.config/tokenkeeper/config.yaml"},
		{"nothing", map[string]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ConfigFile(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Fatalf("DefaultPath = %q, want %q", got, tt.want)
			}
		})
	}
}
