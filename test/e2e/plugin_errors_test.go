package e2e

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tokenkeeper/tokenkeeper/host"
	"github.com/tokenkeeper/tokenkeeper/plugin/wire"
)

// TestPluginErrorsAgreeOnEveryPath: one failure, one class, whichever way
// a token is asked for. A VCD profile whose password command fails is bad
// configuration for `get --no-agent`, for `get` through the agent, and for
// a Go host of the plugin (FailedPrecondition with reason BAD_CONFIG).
// Before the CLI and the TokenService shared one classifier, only
// --no-agent said so; the agent exited 1 (Internal) and hosts saw gRPC
// Internal.
func TestPluginErrorsAgreeOnEveryPath(t *testing.T) {
	t.Parallel()
	tokenkeeper, _ := binaries(t)
	s := startSim(t, "vcd", "--user", "alice@acme=Right-pw-1")
	cfg := fmt.Sprintf(`profiles:
  cloud:
    provider: vcd
    url: %s
    ca_file: %s
    org: acme
    username: alice
    password: {command: ["false"]}
`, s.URL, s.CAFile)
	tk := newTK(t, cfg)
	for _, args := range [][]string{
		{"get", "--profile", "cloud", "--no-agent"},
		{"get", "--profile", "cloud"},
	} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			r := tk.run(t, nil, args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2 (bad configuration); stderr %q", r.code, r.stderr)
			}
			if doc := checkErrorOutput(t, r); doc.Error.Code != "BadConfig" {
				t.Fatalf("error code %q, want BadConfig (%s)", doc.Error.Code, doc.Error.Message)
			}
		})
	}

	c, err := launch(t, host.LaunchOptions{Path: tokenkeeper, ConfigPath: tk.config,
		Env: []string{"XDG_RUNTIME_DIR=" + tk.runtime}})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	_, err = c.Token(callCtx(t), "cloud", host.TokenOptions{})
	var he *host.Error
	if !errors.As(err, &he) || !errors.Is(err, host.ErrBadConfig) ||
		he.Code != codes.FailedPrecondition || he.Reason != wire.ReasonBadConfig {
		t.Fatalf("plugin host: %v, want FailedPrecondition with reason %s", err, wire.ReasonBadConfig)
	}
	if st := s.Stats(t); st.Logins+st.LoginFailures != 0 {
		t.Errorf("a login was attempted without a password: %+v", st)
	}
}
