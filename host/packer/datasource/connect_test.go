// SPDX-License-Identifier: Apache-2.0

package datasource

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tokenkeeper/tokenkeeper/host"
)

func TestConnectorChoosesAgentOrChild(t *testing.T) {
	agent, child := &fakeClient{}, &fakeClient{}
	tests := []struct {
		name       string
		cfg        Config
		agentUp    bool
		wantClient tokenClient
		wantSocket string // the socket dialled, when checked
		wantLaunch *host.LaunchOptions
	}{
		{
			name: "agent answers", cfg: Config{Profile: "sddc", HelperPath: "tokenkeeper"},
			agentUp: true, wantClient: agent,
		},
		{
			name: "no agent: launch helper from PATH", cfg: Config{Profile: "sddc", HelperPath: "tokenkeeper"},
			wantClient: child, wantLaunch: &host.LaunchOptions{Path: "/usr/local/bin/tokenkeeper"},
		},
		{
			name: "explicit config, its agent answers", agentUp: true,
			cfg:        Config{Profile: "sddc", HelperPath: "tokenkeeper", ConfigPath: "/etc/tk.yaml"},
			wantClient: agent, wantSocket: "sock:/etc/tk.yaml",
		},
		{
			name:       "explicit config, no agent: launch with it",
			cfg:        Config{Profile: "sddc", HelperPath: "tokenkeeper", ConfigPath: "/etc/tk.yaml"},
			wantClient: child, wantLaunch: &host.LaunchOptions{Path: "/usr/local/bin/tokenkeeper", ConfigPath: "/etc/tk.yaml"},
		},
		{
			name: "empty helper path defaults", cfg: Config{Profile: "sddc"},
			wantClient: child, wantLaunch: &host.LaunchOptions{Path: "/usr/local/bin/tokenkeeper"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var launched []host.LaunchOptions
			up := tokenClient(nil)
			if tt.agentUp {
				up = agent
			}
			c := fakeConnector(up, child, &launched)
			var dialled []string
			realDial := c.dial
			c.dial = func(ctx context.Context, socket string) (tokenClient, error) {
				dialled = append(dialled, socket)
				return realDial(ctx, socket)
			}
			got, viaAgent, err := c.open(context.Background(), tt.cfg, hclog.NewNullLogger())
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if viaAgent != (tt.wantClient == agent) {
				t.Errorf("open says viaAgent=%v, want %v", viaAgent, tt.wantClient == agent)
			}
			if got != tt.wantClient {
				t.Errorf("open returned the wrong client (agent=%v)", got == agent)
			}
			if len(dialled) != 1 || (tt.wantSocket != "" && dialled[0] != tt.wantSocket) {
				t.Errorf("dialled %q, want one dial (of %q)", dialled, tt.wantSocket)
			}
			switch {
			case tt.wantLaunch == nil && len(launched) != 0:
				t.Errorf("launched %d helpers, want none", len(launched))
			case tt.wantLaunch != nil && len(launched) != 1:
				t.Fatalf("launched %d helpers, want 1", len(launched))
			case tt.wantLaunch != nil:
				if l := launched[0]; l.Path != tt.wantLaunch.Path || l.ConfigPath != tt.wantLaunch.ConfigPath || l.Logger == nil {
					t.Errorf("launch options = {Path:%q ConfigPath:%q Logger:%v}, want %+v", l.Path, l.ConfigPath, l.Logger, *tt.wantLaunch)
				}
			}
		})
	}
}

func TestConnectorErrors(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*connector)
		wantErr string
	}{
		{
			name: "helper not on PATH",
			mutate: func(c *connector) {
				c.lookPath = func(file string) (string, error) {
					return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
				}
			},
			wantErr: `could not find the tokenkeeper binary "tokenkeeper": put it on PATH or set helper_path`,
		},
		{
			name: "launch fails",
			mutate: func(c *connector) {
				c.launch = func(context.Context, host.LaunchOptions) (tokenClient, error) {
					return nil, errors.New("plugin exited before we could connect")
				}
			},
			wantErr: "could not launch /usr/local/bin/tokenkeeper: plugin exited before we could connect",
		},
		{
			name: "no socket path falls back to launch, which fails",
			mutate: func(c *connector) {
				c.socketPath = func(string) (string, error) { return "", errors.New("no runtime dir") }
				c.launch = func(context.Context, host.LaunchOptions) (tokenClient, error) {
					return nil, errors.New("boom")
				}
			},
			wantErr: "could not launch /usr/local/bin/tokenkeeper: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var launched []host.LaunchOptions
			c := fakeConnector(nil, &fakeClient{}, &launched)
			tt.mutate(&c)
			_, _, err := c.open(context.Background(), Config{Profile: "sddc", HelperPath: "tokenkeeper"}, hclog.NewNullLogger())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("open error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// The agent dial gets its own short deadline so a wedged socket cannot hold
// up the build for the whole execute timeout.
func TestDialAgentIsBounded(t *testing.T) {
	c := connector{
		socketPath: func(string) (string, error) { return "/x.sock", nil },
		dial: func(ctx context.Context, _ string) (tokenClient, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				t.Error("dial context has no deadline")
			} else if d := time.Until(dl); d > dialTimeout {
				t.Errorf("dial deadline %v away, want ≤ %v", d, dialTimeout)
			}
			return nil, errors.New("refused")
		},
	}
	if _, err := c.dialAgent(context.Background(), ""); err == nil {
		t.Error("dialAgent: want the dial error, got nil")
	}
}
