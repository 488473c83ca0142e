//go:build linux

package secret

import "testing"

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/run/secrets/robot`:        "/run/secrets/robot",
		`/mnt/my\040dir/robot`:      "/mnt/my dir/robot",
		`/mnt/tab\011x/back\134s`:   "/mnt/tab\tx/back\\s",
		`/mnt/trailing\04`:          `/mnt/trailing\04`,
		`/mnt/not\999octal/robot\1`: `/mnt/not\999octal/robot\1`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
