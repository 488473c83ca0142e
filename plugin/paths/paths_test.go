package paths

import (
	"errors"
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

// TestAgentFor: the socket every caller derives is the one the agent
// serving that file listens on, in the private runtime directory.
func TestAgentFor(t *testing.T) {
	xdg := t.TempDir()
	a, err := AgentFor(env(map[string]string{"XDG_RUNTIME_DIR": xdg}), "/etc/tk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Dir.Close()
	want, _ := AgentIn(a.Dir, "/etc/tk.yaml")
	if a != want || filepath.Dir(a.Socket) != filepath.Join(xdg, "tokenkeeper") {
		t.Fatalf("AgentFor = %+v, want %+v", a, want)
	}
	if _, err := AgentFor(env(nil), ""); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("no config path: %v, want ErrNoConfig", err)
	}
}
